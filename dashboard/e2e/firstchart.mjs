// The first chart with data, timed by the page itself: from navigation start (the page's time origin)
// to the frame after the one whose DOM first held a chart with data, painted (the task queued from
// requestAnimationFrame runs after that frame's paint). Timed in the page, so the driver's polling
// and round trips are not counted: under load they added 200-300 ms.
//
//   await watchFirstChart(context); await settle(page); await page.goto(url); const ms = await firstChartMs(page);
//   const parts = await page.evaluate(stages);

/** Install the watch on every page ``context`` opens from now on (before navigating). */
export async function watchFirstChart(context) {
  await context.addInitScript(() => {
    const seen = new MutationObserver(() => {
      if (![...document.querySelectorAll("figure.chart")].some((f) => Number(f.dataset.points) > 0)) return;
      seen.disconnect();
      requestAnimationFrame(() =>
        setTimeout(() => {
          window.__perfpulseFirstChartMs = performance.now();
        }, 0),
      );
    });
    seen.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-points"] });
  });
}

/** Milliseconds from navigation start to the first chart with data painted (waits for it). */
export async function firstChartMs(page) {
  await page.waitForFunction(() => window.__perfpulseFirstChartMs !== undefined, null, { timeout: 60_000, polling: 50 });
  return Math.round(await page.evaluate(() => window.__perfpulseFirstChartMs));
}

/** Leave a new browser ``ms`` on a blank page before timing a load: a person's browser is running when
 * they open the dashboard, while one just launched still starts its own processes on the cores the page
 * needs (on the 2-core machine that added ~100 ms at the median and most of the slowest loads). */
export async function settle(page, ms = 1000) {
  if (ms <= 0) return;
  await page.goto("about:blank");
  await new Promise((settled) => setTimeout(settled, ms));
}

/** When the page's parts arrived, ms from navigation (run in the page: ``page.evaluate(stages)``): the
 * HTML, the last script, DOM ready, the first API answer, and how long the API took to start that answer
 * (from its request sent to its first byte: the server's share). */
export function stages() {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const api = resources.filter((r) => r.name.includes("/api/")).sort((a, b) => a.responseEnd - b.responseEnd);
  const scripts = resources.filter((r) => r.name.endsWith(".js")).map((r) => r.responseEnd);
  return {
    html_ms: Math.round(nav.responseEnd),
    scripts_ms: Math.round(Math.max(0, ...scripts)),
    dom_ready_ms: Math.round(nav.domContentLoadedEventEnd),
    first_answer_ms: api.length ? Math.round(api[0].responseEnd) : null,
    first_answer_server_ms: api.length ? Math.round(api[0].responseStart - api[0].requestStart) : null,
  };
}

/** The page's scripts and their sizes on the wire (run in the page: ``page.evaluate(scriptSizes)``). */
export function scriptSizes() {
  return performance
    .getEntriesByType("resource")
    .filter((r) => r.name.endsWith(".js"))
    .map((r) => ({ name: r.name.split("/").pop(), bytes: r.encodedBodySize }));
}
