// First render with data, as a person opening the dashboard sees it: RUNS cold loads of the overview
// (each in a new browser with an empty profile: no cached script, no kept connection), each timed from
// navigation to the first chart with data painted (e2e/firstchart.mjs). Prints one JSON object:
// {"runs_ms": [...], "scripts": [{"name", "bytes"}]}. Used by `python -m bench dashboard`.
//
//   DASHBOARD_URL=http://127.0.0.1:8080 [API_KEY=...] [RUNS=10] node e2e/firstrender.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { firstChartMs, watchFirstChart } from "./firstchart.mjs";

const base = process.env.DASHBOARD_URL ?? "http://127.0.0.1:8080";
const runs = Number(process.env.RUNS ?? 10);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const result = { runs_ms: [], scripts: [] };
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
    await page.goto(`${base}/?range=15m&refresh=off`);
    result.runs_ms.push(await firstChartMs(page));
    result.scripts = await page.evaluate(() =>
      performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js")).map((r) => ({ name: r.name.split("/").pop(), bytes: r.encodedBodySize })),
    );
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(result));
