// The browser script, in a page simulated with the globals it reads (location, document, history,
// PerformanceObserver entries as a browser delivers them): its Web Vitals and route-change timings
// reach a real perfpulse through the ingest API.

import assert from "node:assert/strict";
import { test } from "node:test";

import { reportWebVitals } from "@perfpulse/sdk/browser";

import { counts, eventually, perfpulse, uniqueService } from "./perfpulse.mjs";

/** Install a page's globals; returns `deliver(type, entries)` to play a PerformanceObserver. */
function simulatePage(path) {
  const window = new EventTarget();
  const observers = [];
  class PerformanceObserver {
    static supportedEntryTypes = ["largest-contentful-paint", "layout-shift", "event", "navigation"];
    constructor(callback) {
      this.callback = callback;
    }
    observe(options) {
      this.type = options.type;
      observers.push(this);
    }
    disconnect() {
      observers.splice(observers.indexOf(this), 1);
    }
  }
  const history = {
    pushState(_state, _title, url) {
      globalThis.location.pathname = url;
    },
    replaceState(_state, _title, url) {
      globalThis.location.pathname = url;
    },
  };
  Object.assign(globalThis, {
    location: { pathname: path },
    document: { visibilityState: "visible" },
    history,
    PerformanceObserver,
    addEventListener: window.addEventListener.bind(window),
    removeEventListener: window.removeEventListener.bind(window),
    dispatchEvent: window.dispatchEvent.bind(window),
    requestAnimationFrame: (callback) => setTimeout(callback, 16),
  });
  const getEntriesByType = performance.getEntriesByType.bind(performance);
  performance.getEntriesByType = (type) =>
    type === "navigation" ? [{ responseStart: 180, activationStart: 0 }] : getEntriesByType(type);
  return (type, entries) => {
    for (const observer of observers.filter((o) => o.type === type)) observer.callback({ getEntries: () => entries });
  };
}

test("browser: LCP, INP, CLS, TTFB and route changes reach perfpulse", async (t) => {
  const deployment = await perfpulse(t);
  const service = uniqueService("frontend");
  const startMs = Date.now() - 1000;
  const deliver = simulatePage("/orders/42");
  const stop = reportWebVitals({
    url: deployment.url,
    service,
    routeOf: (path) => path.replace(/\/\d+$/, "/:id"),
    labels: { release: "1.5" },
  });

  deliver("largest-contentful-paint", [{ startTime: 900 }]);
  deliver("largest-contentful-paint", [{ startTime: 1200 }]);
  deliver("layout-shift", [
    { startTime: 100, value: 0.05, hadRecentInput: false },
    { startTime: 400, value: 0.05, hadRecentInput: false },
    { startTime: 3000, value: 0.02, hadRecentInput: false },
    { startTime: 3100, value: 0.5, hadRecentInput: true },
  ]);
  deliver("event", [
    { interactionId: 1, duration: 80 },
    { interactionId: 1, duration: 120 },
    { interactionId: 2, duration: 64 },
    { duration: 400 },
  ]);
  history.pushState({}, "", "/cart/7");
  await new Promise((r) => setTimeout(r, 500)); // the next frame, and the timing taken after it
  document.visibilityState = "hidden";
  dispatchEvent(new Event("visibilitychange"));
  stop();

  const expected = {
    "browser.ttfb": { route: "/orders/:id", sum: 180 },
    "browser.lcp": { route: "/cart/:id", sum: 1200 },
    "browser.cls": { route: "/cart/:id", sum: 0.1 },
    "browser.inp": { route: "/cart/:id", sum: 120 },
  };
  for (const [metric, { route, sum }] of Object.entries(expected)) {
    const [series] = await eventually(metric, async () => {
      const found = await counts(deployment.url, metric, service, startMs, "route,release");
      return found[0]?.count === 1 ? found : undefined;
    });
    assert.deepEqual(series.group, { route, release: "1.5" }, metric);
    assert.ok(Math.abs(series.sum - sum) < 1e-9, `${metric}: ${series.sum} != ${sum}`);
  }
  const [change] = await eventually("browser.route_change.duration", async () => {
    const found = await counts(deployment.url, "browser.route_change.duration", service, startMs, "route");
    return found[0]?.count === 1 ? found : undefined;
  });
  assert.equal(change.group.route, "/cart/:id");
  assert.ok(change.sum >= 10, `route change took ${change.sum} ms, at least a frame`);
});
