// index.html's head start asks the overview's first query before the app's code arrives; the app
// adopts its answer only when it would ask the very same URL. These keep the two in step: for every
// kind of range the app adopts it (one request in all), and off the overview nothing is sent.
import html from "../index.html?raw";
import type { EarlyAnswer } from "./lib/api";
import { resolvedRange } from "./lib/useRange";
import { primeLines } from "./views/overviewLines";

const headStart = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string).find((code) => code.includes("__perfpulseEarly"));
type Early = EarlyAnswer & { now: number };
let tick = 1_000; // a refresh of its own per case: each resolves its range afresh

function runHeadStart(href: string, asked: string[]): Early | undefined {
  window.history.replaceState(null, "", href);
  delete (window as { __perfpulseEarly?: Early }).__perfpulseEarly;
  vi.stubGlobal("fetch", (url: string) => {
    asked.push(url);
    return Promise.resolve(new Response("{}"));
  });
  new Function(headStart as string)();
  return (window as { __perfpulseEarly?: Early }).__perfpulseEarly;
}

describe("index.html's head start", () => {
  afterEach(() => vi.unstubAllGlobals());

  it.each(["/", "/?range=5m", "/?range=1h", "/?range=7d", "/?range=30d", "/?range=45d", "/?range=0m", "/?range=junk",
    "/?range=1733212800000-1733216400000", "/?range=1733216400000-1733212800000", "/?refresh=off&range=3h"])(
    "asks what the overview asks first, so its answer is taken: %s",
    (href) => {
      const asked: string[] = [];
      const early = runHeadStart(href, asked);
      expect(early).toBeDefined();
      const params = new URLSearchParams(href.split("?")[1] ?? "");
      tick += 1;
      primeLines(resolvedRange(params.get("range"), tick, early?.now), early);
      expect(asked).toHaveLength(1); // adopted: the app sent nothing of its own
      expect(asked[0]).toBe(early?.url);
    },
  );

  it("sends nothing off the overview", () => {
    const asked: string[] = [];
    expect(runHeadStart("/logs?range=1h", asked)).toBeUndefined();
    expect(asked).toEqual([]);
  });
});
