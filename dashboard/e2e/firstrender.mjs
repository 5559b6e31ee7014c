// First render with data, as a person opening the dashboard sees it: RUNS cold loads of the overview
// (each in a new browser with an empty profile: no cached script, no kept connection), each timed from
// navigation to the frame after the first chart got data. Prints one JSON object:
// {"runs_ms": [...], "scripts": [{"name", "bytes"}]}. Used by `python -m bench dashboard`.
//
//   DASHBOARD_URL=http://127.0.0.1:8080 [API_KEY=...] [RUNS=10] node e2e/firstrender.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

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
    const started = Date.now();
    await page.goto(`${base}/?range=15m&refresh=off`);
    await page.waitForFunction(() => [...document.querySelectorAll("figure.chart")].some((f) => Number(f.dataset.points) > 0), null, { timeout: 60_000, polling: 20 });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
    result.runs_ms.push(Date.now() - started);
    result.scripts = await page.evaluate(() =>
      performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js")).map((r) => ({ name: r.name.split("/").pop(), bytes: r.encodedBodySize })),
    );
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(result));
