// Imported first by main.tsx, for its side effect: on the overview, the first chart's query leaves as
// soon as this runs, before React's renderer and the views are evaluated (modules run in import order).
import { currentTick } from "./lib/refresh";
import { parseLocation } from "./lib/router";
import { resolvedRange } from "./lib/useRange";
import { primeLines } from "./views/overviewLines";

const { path, params } = parseLocation(window.location.pathname + window.location.search);
if (path === "/") primeLines(resolvedRange(params.get("range"), currentTick()));
