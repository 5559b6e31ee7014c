// First render with data, as a person opening the dashboard sees it: RUNS cold loads of the overview
// (each in a new browser with an empty profile: no cached script, no kept connection), each timed from
// navigation to the first chart with data painted (e2e/firstchart.mjs). The browser is left SETTLE_MS
// (default 1000) on a blank page before it navigates (firstchart.mjs `settle` says why); SETTLE_MS=0
// measures from launch.
//
// Prints one JSON object: {"runs_ms": [...], "stages": [{...}], "scripts": [{"name", "bytes"}]}, where a
// stage says when (ms from navigation) the page's HTML and scripts had arrived, the DOM was ready, and the
// first API answer came (and the server's share of it). Used by `python -m bench dashboard`.
//
//   DASHBOARD_URL=http://127.0.0.1:8080 [API_KEY=...] [RUNS=10] [SETTLE_MS=1000] node e2e/firstrender.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { firstChartMs, scriptSizes, settle, stages, watchFirstChart } from "./firstchart.mjs";

const base = process.env.DASHBOARD_URL ?? "http://127.0.0.1:8080";
const runs = Number(process.env.RUNS ?? 10);
const settleMs = Number(process.env.SETTLE_MS ?? 1000);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

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
    await settle(page, settleMs);
    await page.goto(`${base}/?range=15m&refresh=off`);
    result.runs_ms.push(await firstChartMs(page));
    result.stages.push(await page.evaluate(stages));
    result.scripts = await page.evaluate(scriptSizes);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(result));
