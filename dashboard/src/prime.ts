// Imported first by main.tsx, for its side effect: on the overview, the first chart's query leaves as
// soon as this runs, before React's renderer and the views are evaluated (modules run in import order),
// unless index.html's head start already asked it: then its answer is taken, and its time is the range's
// now, so that the views ask the same URL.
import type { EarlyAnswer } from "./lib/api";
import { currentTick } from "./lib/refresh";
import { parseLocation } from "./lib/router";
import { resolvedRange } from "./lib/useRange";
import { primeLines } from "./views/overviewLines";

const early = (window as { __perfpulseEarly?: EarlyAnswer & { now: number } }).__perfpulseEarly;
const { path, params } = parseLocation(window.location.pathname + window.location.search);
if (path === "/") primeLines(resolvedRange(params.get("range"), currentTick(), early?.now), early);
