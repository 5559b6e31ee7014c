// First render with data, as a person opening the dashboard sees it: RUNS cold loads of the overview
// (each in a new browser with an empty profile: no cached script, no kept connection), each timed from
// navigation to the first chart with data painted (e2e/firstchart.mjs). The browser is left SETTLE_MS
// (default 1000) on a blank page before it navigates: a person's browser is running when they open the
// dashboard, while a browser just launched still starts its own processes on the cores the page needs
// (on the 2-core machine that added ~100 ms at the median and most of the slowest loads). SETTLE_MS=0
// measures from launch as before.
//
// Prints one JSON object: {"runs_ms": [...], "stages": [{...}], "scripts": [{"name", "bytes"}]}, where a
// stage says when (ms from navigation) the page's HTML and scripts had arrived, the DOM was ready, and the
// first API answer came. Used by `python -m bench dashboard`.
//
//   DASHBOARD_URL=http://127.0.0.1:8080 [API_KEY=...] [RUNS=10] [SETTLE_MS=1000] node e2e/firstrender.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { firstChartMs, watchFirstChart } from "./firstchart.mjs";

const base = process.env.DASHBOARD_URL ?? "http://127.0.0.1:8080";
const runs = Number(process.env.RUNS ?? 10);
const settleMs = Number(process.env.SETTLE_MS ?? 1000);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** When the page's parts arrived, ms from navigation (read in the page). */
function stages() {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const ends = (pick) => resources.filter(pick).map((r) => r.responseEnd);
  const first = (values) => (values.length ? Math.round(Math.min(...values)) : null);
  return {
    html_ms: Math.round(nav.responseEnd),
    scripts_ms: Math.round(Math.max(0, ...ends((r) => r.name.endsWith(".js")))),
    dom_ready_ms: Math.round(nav.domContentLoadedEventEnd),
    first_answer_ms: first(ends((r) => r.name.includes("/api/"))),
  };
}

const result = { runs_ms: [], stages: [], scripts: [] };
for (let i = 0; i < runs; i++) {
  const profile = mkdtempSync(join(tmpdir(), "perfpulse-firstrender-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  try {
    if (process.env.API_KEY) await context.addInitScript((key) => window.localStorage.setItem("perfpulse.apiKey", key), process.env.API_KEY);
    const page = context.pages()[0] ?? (await context.newPage());
    await watchFirstChart(context);
    if (settleMs > 0) {
      await page.goto("about:blank");
      await new Promise((settled) => setTimeout(settled, settleMs));
    }
    await page.goto(`${base}/?range=15m&refresh=off`);
    result.runs_ms.push(await firstChartMs(page));
    result.stages.push(await page.evaluate(stages));
    result.scripts = await page.evaluate(() =>
      performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js")).map((r) => ({ name: r.name.split("/").pop(), bytes: r.encodedBodySize })),
    );
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(result));
