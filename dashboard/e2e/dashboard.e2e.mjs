// End-to-end checks of the dashboard in headless Debian chromium (driven by playwright-core; no
// browser is downloaded), against a running perfpulse with demo traffic. Each check saves a
// screenshot of its view into SCREENSHOT_DIR; the results go to stdout as one JSON object, which
// tests/e2e/test_dashboard.py asserts on (it also asks the API the same questions).
//
//   DASHBOARD_URL=http://127.0.0.1:8080 SCREENSHOT_DIR=/tmp/shots node e2e/dashboard.e2e.mjs
//
// PHASE=open (default): the API has no key yet (everything open, writes allowed): the views, and the
// alert panel's writes (a rule created from the panel fires, a silence created from the alert mutes
// it, then expires). PHASE=keys: the API has keys (READ_KEY, ADMIN_KEY): signing in with each, the
// read key sees no write action and the admin key does.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { firstChartMs, scriptSizes, settle, stages, watchFirstChart } from "./firstchart.mjs";

const base = process.env.DASHBOARD_URL ?? "http://127.0.0.1:8080";
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT = 30_000;
// SHARED_START/SHARED_END: a past range the caller knows holds settled data (default: 8 to 2 minutes ago).
const SHARED_END = Number(process.env.SHARED_END ?? Date.now() - 2 * 60_000);
const SHARED = [Number(process.env.SHARED_START ?? SHARED_END - 6 * 60_000), SHARED_END];
const PHASE = process.env.PHASE ?? "open";
const RULE = process.env.E2E_RULE ?? "e2e_demo_latency"; // the rule the alert check creates
const CHANNEL = process.env.E2E_CHANNEL ?? ""; // the channel it notifies
mkdirSync(shots, { recursive: true });

// Each check runs in a browser of its own with a new empty profile, as a person opening a shared link
// would. The machine has no outside network: without these flags chromium keeps trying its services.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const profiles = [];

const results = { consoleErrors: [], checks: {} };

async function newPage(colorScheme = "light") {
  const profile = mkdtempSync(join(tmpdir(), "perfpulse-chromium-"));
  profiles.push(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    colorScheme,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (msg) => {
    if (msg.type() === "error") results.consoleErrors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => results.consoleErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

async function shot(page, name) {
  const path = join(shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Every chart of the overview: its title and how many points it draws. */
async function charts(page) {
  return page.$$eval("figure.chart", (els) => els.map((el) => ({ title: el.dataset.chart, points: Number(el.dataset.points) })));
}

// The whole page: the overview mounts its lower half after the first paint (data-below), and a chart
// mounted after this returned would have a canvas the checks never saw.
async function waitForChartsWithData(page) {
  await page.waitForFunction(
    () => {
      const figs = [...document.querySelectorAll("figure.chart")];
      if (document.querySelector('.overview[data-below="waiting"]')) return false;
      return figs.length >= 5 && figs.every((f) => Number(f.dataset.points) > 0);
    },
    null,
    { timeout: 60_000, polling: 100 },
  );
}

async function gauge(page, service, stat) {
  const selector = `.latency-row[data-service="${service}"] .gauge[data-stat="${stat}"]`;
  // A gauge names its query before its answer arrives (slow under load): read it once it holds one.
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.value, selector, { timeout: 30_000 });
  return page.$eval(selector, (el) => ({
    value: el.dataset.value === "" ? null : Number(el.dataset.value),
    query: el.dataset.query,
    text: el.querySelector(".gauge-value")?.textContent,
  }));
}

/** Run one check in a fresh browser; a failure is recorded with its screenshot, and the browser closed. */
async function run(name, check, colorScheme = "light") {
  const page = await newPage(colorScheme);
  try {
    results.checks[name] = { ok: true, ...(await check(page)) };
  } catch (exc) {
    results.checks[name] = { ok: false, error: String(exc?.stack ?? exc), screenshot: await shot(page, `${name}-failed`).catch(() => null) };
  } finally {
    await page.context().close().catch(() => {});
  }
}

if (PHASE === "open") {
  // 1. The overview loads, every chart of the grid has data; time to the first chart with data.
  await run("overview", async (page) => {
    await watchFirstChart(page.context());
    await settle(page);
    await page.goto(`${base}/?range=15m&refresh=off`);
    const firstDataMs = await firstChartMs(page);
    const parts = await page.evaluate(stages);
    const scripts = await page.evaluate(scriptSizes);
    await waitForChartsWithData(page);
    await page.waitForSelector(".bars tbody tr");
    const health = await page.$$eval(".health-card", (els) => els.map((el) => ({ service: el.dataset.service, health: el.dataset.health })));
    const p95 = await gauge(page, "gateway", "p95");
    // The rate and error charts: from when their buckets are still open (drawn apart), and the note saying so.
    const openBuckets = await page.$$eval('figure.chart[data-chart="Request rate"], figure.chart[data-chart^="Error rate"]', (els) =>
      els.map((el) => ({ chart: el.dataset.chart, openFrom: el.dataset.openFrom, note: el.querySelector(".open-note")?.textContent ?? null, at: Date.now() })),
    );
    // perfpulse's own processes in the resource monitor: the API (with sink and notifier) and the stream worker.
    await page.waitForFunction(() => document.querySelectorAll(".own-processes tbody tr").length >= 2, null, { timeout: 30_000 });
    const processes = await page.$$eval(".own-processes tbody tr", (els) =>
      els.map((el) => ({ role: el.dataset.role, pid: Number(el.dataset.pid), rss: Number(el.dataset.rss), cpu: el.dataset.cpu === "" ? null : Number(el.dataset.cpu) })),
    );
    const screenshot = await shot(page, "overview");
    await page.locator(".own-processes").scrollIntoViewIfNeeded();
    const resourcesShot = join(shots, "resources.png");
    await page.locator(".own-processes").screenshot({ path: resourcesShot });
    return { firstDataMs, stages: parts, scripts, health, p95, openBuckets, processes, screenshot, resourcesScreenshot: resourcesShot };
  });

  // 2. Charts: every chart of the grid has data (collected apart, so a failure names the chart).
  await run("charts", async (page) => {
    await page.goto(`${base}/?range=15m&refresh=off`);
    try {
      await waitForChartsWithData(page);
    } catch {
      // report which charts are empty below
    }
    const list = await charts(page);
    const screenshot = await shot(page, "charts");
    return { charts: list, screenshot };
  });

  // 3. The range picker changes what is shown: 5 minutes instead of 15, in the URL and the queries.
  await run("rangePicker", async (page) => {
    await page.goto(`${base}/?range=15m&refresh=off`);
    await waitForChartsWithData(page);
    const before = await gauge(page, "gateway", "p95");
    await page.click(".range-button");
    await page.click('[data-range="5m"]');
    await page.waitForFunction((q) => document.querySelector('.gauge[data-stat="p95"]')?.dataset.query !== q, before.query);
    await waitForChartsWithData(page);
    const after = await gauge(page, "gateway", "p95");
    const url = page.url();
    const label = await page.textContent(".range-button");
    const screenshot = await shot(page, "range-5m");
    return { before, after, url, label, screenshot };
  });

  // 4. Drag across a chart zooms the page's range to the dragged span.
  await run("dragZoom", async (page) => {
    await page.goto(`${base}/?range=5m&refresh=off`);
    await waitForChartsWithData(page);
    const over = page.locator('figure.chart[data-chart="Request rate"] .u-over');
    await over.scrollIntoViewIfNeeded(); // the mouse only reaches what is on screen
    const box = await over.boundingBox();
    // The newest part of the chart: a fresh deployment has data only there.
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.95, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    await page.waitForFunction(() => /range=\d+-\d+/.test(window.location.search));
    const url = page.url();
    // The queries behind the grid follow the dragged range.
    const range = new URL(url).searchParams.get("range");
    const [start, end] = range.split("-");
    await page.waitForFunction(
      (want) => document.querySelector('.gauge[data-stat="p95"]')?.dataset.query?.includes(want),
      `start=${start}&end=${end}`,
    );
    const query = await page.$eval('.gauge[data-stat="p95"]', (el) => el.dataset.query);
    await page.waitForLoadState("networkidle");
    const charts = await page.$$eval("figure.chart", (els) => els.map((el) => ({ title: el.dataset.chart, points: Number(el.dataset.points) })));
    const screenshot = await shot(page, "drag-zoom");
    return { url, query, charts, screenshot };
  });

  // 5. A shared URL shows the same thing in a fresh browser: an absolute range older than now.
  await run(
    "sharedUrl",
    async (page) => {
    const [start, end] = SHARED;
    const url = `${base}/?range=${start}-${end}&refresh=off`;
    await page.goto(url);
    await waitForChartsWithData(page);
    const p95 = await gauge(page, "gateway", "p95");
    const label = await page.textContent(".range-button");
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    const screenshot = await shot(page, "shared-url-dark");
    return { url, start, end, p95, label, theme, screenshot };
    },
    "dark",
  );

  // 6. Traces: search, open the slowest, see the waterfall with the critical path marked, span details.
  // The search covers the shared (past, settled) range: a trace still receiving spans would differ
  // from the API's answer read a moment later.
  await run("trace", async (page) => {
    await page.goto(`${base}/traces?range=${SHARED[0]}-${SHARED[1]}&refresh=off&service=gateway`);
    await page.waitForSelector("a.trace-line");
    const listShot = await shot(page, "traces");
    const traceId = await page.getAttribute("a.trace-line", "data-trace");
    await page.click("a.trace-line");
    await page.waitForSelector(".waterfall .wf-row[data-span]");
    const rows = await page.$$eval(".wf-row[data-span]", (els) => els.map((el) => ({ span: el.dataset.span, critical: el.dataset.critical === "true" })));
    const criticalBars = await page.$$eval(".wf-critical", (els) => els.length);
    await page.click('.wf-row[data-critical="true"]');
    await page.waitForSelector(".span-details");
    const details = await page.textContent(".span-details");
    const screenshot = await shot(page, "trace-waterfall");
    return { traceId, url: page.url(), rows, criticalBars, details, screenshot, listScreenshot: listShot };
  });

  // 7. Logs: LOG_SERVICE's lines (the test ingested LOG_COUNT of them), newest first, in a virtual
  // list: only the rows in view are in the page, and scrolling through all of them keeps its frames short.
  await run("logs", async (page) => {
    const service = process.env.LOG_SERVICE ?? "";
    await page.goto(`${base}/logs?range=1h&refresh=off${service ? `&service=${service}` : ""}`);
    await page.waitForSelector(".log-line");
    const rows = await page.$eval("[data-rows]", (el) => Number(el.dataset.rows));
    const rendered = await page.$$eval(".log-line", (els) => els.length);
    const firstLines = await page.$$eval(".log-line .log-msg", (els) => els.slice(0, 3).map((el) => el.textContent));
    const screenshot = await shot(page, "logs");
    // Scroll to the bottom in steps, one per frame, and time the frames.
    const frames = await page.evaluate(async () => {
      const box = document.querySelector(".vlist");
      const times = [];
      let last = performance.now();
      const steps = 120;
      for (let i = 1; i <= steps; i += 1) {
        box.scrollTop = (box.scrollHeight * i) / steps;
        await new Promise((resolve) => requestAnimationFrame(resolve));
        const now = performance.now();
        times.push(now - last);
        last = now;
      }
      times.sort((a, b) => a - b);
      return { frames: times.length, medianMs: times[Math.floor(times.length / 2)], worstMs: times[times.length - 1] };
    });
    // The list renders a scroll in a frame after the one it happened in (React batches the scroll
    // event's update; on a loaded machine more than one frame later): the last row is read once it
    // stayed the same for 3 frames (2 s at most).
    const lastLine = await page.evaluate(async () => {
      const last = () => [...document.querySelectorAll(".log-line .log-msg")].at(-1)?.textContent;
      let seen = last();
      const until = performance.now() + 2000;
      for (let same = 0; same < 3 && performance.now() < until; ) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
        const now = last();
        same = now === seen ? same + 1 : 0;
        seen = now;
      }
      return seen;
    });
    // Cells whose text runs over the next one (a service name wider than its column did).
    const overflowing = await page.$$eval(".log-line > span", (els) =>
      els.filter((el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).overflowX === "visible").map((el) => el.textContent),
    );
    const bottomShot = await shot(page, "logs-scrolled");
    return { rows, rendered, firstLines, lastLine, overflowing, frames, screenshot, bottomScreenshot: bottomShot };
  });

  // 8. Alerts and the service map render with data or their honest empty state.
  for (const [name, path, selector] of [
    ["alerts", "/alerts?range=1h&refresh=off", ".alerts section"],
    ["serviceMap", "/map?range=15m&refresh=off", ".map-node"],
  ]) {
    await run(name, async (page) => {
      await page.goto(`${base}${path}`);
      await page.waitForSelector(selector);
      await page.waitForLoadState("networkidle");
      const count = await page.$$eval(selector, (els) => els.length);
      const screenshot = await shot(page, name);
      return { count, screenshot };
    });
  }

  // 10. The report of the shared (settled) range: per service, the spec's targets against the figures.
  await run("report", async (page) => {
    await page.goto(`${base}/reports?range=${SHARED[0]}-${SHARED[1]}&refresh=off`);
    await page.waitForSelector('.report[data-ready="true"] .report-service');
    const lines = await page.$$eval(".report-service tr[data-line]", (els) =>
      els.map((el) => ({
        service: el.closest(".report-service").dataset.service,
        line: el.dataset.line,
        value: el.dataset.value === "" ? null : Number(el.dataset.value),
        met: el.dataset.met,
      })),
    );
    const screenshot = await shot(page, "report");
    return { lines, screenshot };
  });

  // 11. Live refresh, the default (no refresh parameter): the overview opens the live feed, says
  // "live", and asks its queries again after the feed's batches, with no reload and no poll (the feed
  // is the only refresh while live), until what it shows changes (a batch may be an alert transition,
  // which leaves the figures as they were); the charts keep their canvases (updated in place).
  await run("liveRefresh", async (page) => {
    const frames = []; // the live feed's frames as received: type and when (epoch ms)
    page.on("websocket", (ws) => {
      if (!ws.url().includes("/api/v1/live")) return;
      ws.on("framereceived", ({ payload }) => {
        if (typeof payload === "string") frames.push({ type: JSON.parse(payload).type, at: Date.now() });
      });
    });
    // Requests of the page still waiting for their answer: the first load is over when none is left.
    await page.addInitScript(() => {
      let waiting = 0;
      const send = window.fetch;
      window.__waiting = () => waiting;
      window.fetch = (...args) => {
        waiting += 1;
        return send(...args).finally(() => {
          waiting -= 1;
        });
      };
    });
    await page.goto(`${base}/?range=5m`);
    await page.waitForSelector('.live-state[data-state="live"]');
    await waitForChartsWithData(page);
    // What the page shows is read once its first load has ended (no request waiting twice in a row,
    // 300 ms apart): the gauges' and the health grid's answers can come after the charts' (seen in CI:
    // a late first answer counted as the change, before any batch of the feed).
    await page.waitForFunction(
      () => {
        const idle = window.__waiting() === 0;
        const settled = idle && window.__idleSince !== undefined && Date.now() - window.__idleSince >= 300;
        window.__idleSince = idle ? (window.__idleSince ?? Date.now()) : undefined;
        return settled;
      },
      null,
      { timeout: 60_000, polling: 100 },
    );
    const before = await gauge(page, "gateway", "p95");
    // In the page: what it shows, and when the gauges asked a new query (a refresh).
    const valuesBefore = await page.evaluate(() => {
      window.__shown = () =>
        JSON.stringify({
          health: [...document.querySelectorAll(".health-card dd")].map((el) => el.textContent),
          gauges: [...document.querySelectorAll(".gauge")].map((el) => el.dataset.value),
          points: [...document.querySelectorAll("figure.chart")].map((el) => el.dataset.points),
        });
      window.__refreshes = [];
      new MutationObserver(() => window.__refreshes.push(Date.now())).observe(
        document.querySelector('.latency-row[data-service="gateway"] .gauge[data-stat="p95"]'),
        { attributes: true, attributeFilter: ["data-query"] },
      );
      for (const canvas of document.querySelectorAll("figure.chart canvas")) canvas.__before = true; // gone if re-created
      return window.__shown();
    });
    await page.waitForFunction((was) => window.__shown() !== was, valuesBefore, { timeout: 90_000, polling: 200 });
    const changedAt = Date.now();
    const valuesAfter = await page.evaluate(() => window.__shown());
    const after = await gauge(page, "gateway", "p95");
    const seen = await page.evaluate(() => ({
      refreshTimes: window.__refreshes, // undefined after a reload
      sameCanvases: [...document.querySelectorAll("figure.chart canvas")].every((c) => c.__before === true),
    }));
    const refreshes = (seen.refreshTimes ?? []).map((at) => {
      const batches = frames.filter((f) => f.type === "batch" && f.at <= at);
      return { batches: batches.length, sinceBatchMs: batches.length ? at - batches.at(-1).at : null };
    });
    const state = await page.getAttribute(".live-state", "data-state");
    const screenshot = await shot(page, "live-refresh");
    await page.selectOption('select[aria-label="Auto-refresh"]', "10s");
    await page.waitForSelector(".live-state", { state: "detached" });
    await page.selectOption('select[aria-label="Auto-refresh"]', "live");
    await page.waitForSelector('.live-state[data-state="live"]');
    const url = page.url();
    return {
      state, before, after, valuesBefore, valuesAfter, refreshes, url, screenshot,
      sameDocument: seen.refreshTimes !== undefined,
      sameCanvases: seen.sameCanvases,
      changedAfterMs: changedAt - (frames.find((f) => f.type === "subscribed")?.at ?? changedAt),
      frameTypes: [...new Set(frames.map((f) => f.type))],
    };
  });

  // 9. The alert panel's writes: a rule made in the panel (validated first) fires within seconds on the
  // demo's traffic; a silence created from one of its alerts mutes it; its delivery attempts open; the
  // silence is expired from the panel.
  await run("alertWrites", async (page) => {
    await page.goto(`${base}/alerts?range=15m&refresh=5s`);
    await page.click('[data-action="new-rule"]');
    await page.fill('.rule-editor input[name="name"]', RULE);
    await page.fill('.rule-editor input[name="condition"]', "response_time.p50 > 0");
    await page.fill('.rule-editor input[name="for"]', "");
    await page.fill('.rule-editor input[name="notification"]', CHANNEL);
    await page.fill('.rule-editor input[name="summary"]', "{{ $labels.service }} answers (p50 {{ $value }} ms)");
    await page.click('[data-action="validate-rule"]');
    const validation = await (await page.waitForSelector(".validation")).getAttribute("data-valid");
    const editorShot = await shot(page, "rule-editor");
    const created = Date.now();
    await page.click('[data-action="save-rule"]');
    await page.waitForSelector(`tr[data-rule="${RULE}"]`);
    // One of its alerts (grouped by service): gateway's, once pending or firing.
    const row = `tr[data-fingerprint]:has(td:nth-child(2):text-is("${RULE}")):has(td:text-matches("service=gateway"))`;
    await page.waitForSelector(`${row} .pill-firing, ${row} .pill-pending`, { timeout: 60_000 });
    const breachSeenMs = Date.now() - created;
    const fingerprint = await page.getAttribute(row, "data-fingerprint");
    const breachedShot = await shot(page, "alert-breached");
    await page.click(`${row} [data-action="silence"]`);
    await page.fill(`${row} .silence-form input`, "muted by the dashboard e2e check");
    const silencing = Date.now();
    await page.click(`${row} [data-action="create-silence"]`);
    await page.waitForSelector(`${row} .pill-muted:text-is("silenced")`, { timeout: 60_000 });
    const silencedMs = Date.now() - silencing;
    const silenceId = await page.getAttribute("tr[data-silence]:has(.pill-active)", "data-silence");
    const silencedShot = await shot(page, "alert-silenced");
    await page.click(`${row} [data-action="attempts"]`);
    await page.waitForSelector(`[data-attempts="${fingerprint}"] table, [data-attempts="${fingerprint}"] .status`);
    const attempts = await page.$$eval(`[data-attempts="${fingerprint}"] tbody tr`, (els) => els.length);
    const attemptsUrl = page.url();
    const attemptsShot = await shot(page, "alert-attempts");
    await page.click(`tr[data-silence="${silenceId}"] [data-action="expire-silence"]`);
    await page.waitForSelector(`tr[data-silence="${silenceId}"] .pill-expired`, { timeout: 30_000 });
    const screenshot = await shot(page, "silence-expired");
    return {
      validation, breachSeenMs, fingerprint, silencedMs, silenceId, attempts, attemptsUrl,
      screenshot, editorScreenshot: editorShot, breachedScreenshot: breachedShot,
      silencedScreenshot: silencedShot, attemptsScreenshot: attemptsShot,
    };
  });
}

/** Sign in on the alert panel with ``key``; what it offers then. */
async function signedIn(page, key, name) {
  await page.goto(`${base}/alerts?range=15m&refresh=off`);
  await page.fill('.key-menu input[type="password"]', key); // the API answered 401: the key form is open
  await page.click('.key-menu button[type="submit"]');
  await page.waitForSelector("tr[data-rule]");
  await page.waitForSelector("tr[data-fingerprint]");
  await page.waitForLoadState("networkidle"); // the role probe has answered
  const writeActions = await page.$$eval(".write-action", (els) => els.map((el) => el.dataset.action ?? el.textContent));
  const readActions = await page.$$eval('[data-action="attempts"]', (els) => els.length);
  const keyButton = await page.textContent(".key-field > button");
  const screenshot = await shot(page, name);
  return { writeActions, readActions, keyButton, screenshot };
}

if (PHASE === "keys") {
  await run("readKey", (page) => signedIn(page, process.env.READ_KEY ?? "", "read-key"));
  await run("adminKey", (page) => signedIn(page, process.env.ADMIN_KEY ?? "", "admin-key"));
}

for (const profile of profiles) rmSync(profile, { recursive: true, force: true });
// Exit once the results are out: a browser child that lingers must not hold the test.
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`, () => process.exit(0));
