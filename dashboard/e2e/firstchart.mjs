// The first chart with data, timed by the page itself: from navigation start (the page's time origin)
// to the frame after the one whose DOM first held a chart with data, painted (the task queued from
// requestAnimationFrame runs after that frame's paint). Timed in the page, so the driver's polling
// and round trips are not counted: under load they added 200-300 ms.
//
//   await watchFirstChart(context); await page.goto(url); const ms = await firstChartMs(page);

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
