/**
 * Web Vitals and route-change timings of a page, reported to perfpulse's ingest API. No Node APIs
 * and no dependency: PerformanceObserver gives LCP, INP, CLS and TTFB as the web-vitals library
 * defines them (LCP: the last largest-contentful-paint before the first input or hide; INP: the
 * longest interaction, ignoring one per 50; CLS: the largest session window of layout shifts, gaps
 * under 1 s, windows up to 5 s; TTFB: responseStart of the navigation). Route changes (history
 * pushState/replaceState, popstate) are timed to the next frame after the change.
 *
 * Metrics, all distributions labelled `route` (the template `routeOf` gives, default the path):
 * `browser.lcp`, `browser.inp`, `browser.ttfb`, `browser.route_change.duration` (ms) and
 * `browser.cls` (unitless). Points are sent when the page is hidden (fetch with `keepalive`) and
 * every `flushMs`. Use an API key scoped to ingest: it is visible to anyone who loads the page.
 */

export interface VitalsOptions {
  /** perfpulse's base URL. */
  url: string;
  /** The service the points belong to, e.g. `frontend`. */
  service: string;
  /** An ingest-scoped API key (`Authorization: Bearer <key>`). */
  key?: string;
  /** The route template of a path (`/orders/42` -> `/orders/:id`); default the path itself. */
  routeOf?: (path: string) => string;
  /** Labels of every point (e.g. `{ release: "1.5" }`). */
  labels?: Record<string, string>;
  /** Send buffered points this often, milliseconds; default 10 000. */
  flushMs?: number;
}

interface Point {
  name: string;
  value: number;
  ts: number;
  kind: "distribution";
  labels: Record<string, string>;
}

interface LayoutShift extends PerformanceEntry {
  value: number;
  hadRecentInput: boolean;
}
interface EventTiming extends PerformanceEntry {
  interactionId?: number;
}

/** Start reporting; returns a function that stops it (sending what is buffered). */
export function reportWebVitals(options: VitalsOptions): () => void {
  const endpoint = `${options.url.replace(/\/+$/, "")}/api/v1/ingest/metrics`;
  const routeOf = options.routeOf ?? ((path: string) => path);
  const points: Point[] = [];
  const stops: (() => void)[] = [];
  let route = routeOf(location.pathname);

  const add = (name: string, value: number, forRoute = route) => {
    if (Number.isFinite(value) && value >= 0) {
      points.push({ name, value, ts: Date.now(), kind: "distribution", labels: { ...options.labels, route: forRoute } });
    }
  };

  const send = () => {
    if (points.length === 0) return;
    const body = JSON.stringify({ service: options.service, points: points.splice(0) });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    // keepalive lets the request outlive the page being hidden or unloaded.
    fetch(endpoint, { method: "POST", headers, body, keepalive: true }).catch(() => undefined);
  };

  const observe = (type: string, callback: (entries: PerformanceEntry[]) => void, extra: object = {}) => {
    if (typeof PerformanceObserver === "undefined" || !PerformanceObserver.supportedEntryTypes?.includes(type)) return;
    const observer = new PerformanceObserver((list) => callback(list.getEntries()));
    observer.observe({ type, buffered: true, ...extra } as PerformanceObserverInit);
    stops.push(() => observer.disconnect());
  };

  // TTFB: once, from the navigation entry (relative to activation for prerendered pages).
  const navigation = performance.getEntriesByType?.("navigation")[0] as
    | (PerformanceNavigationTiming & { activationStart?: number })
    | undefined;
  if (navigation !== undefined) add("browser.ttfb", Math.max(0, navigation.responseStart - (navigation.activationStart ?? 0)));

  // LCP: the latest candidate, final at the first input or when the page is hidden.
  let lcp: number | undefined;
  let lcpFinal = false;
  observe("largest-contentful-paint", (entries) => {
    const last = entries[entries.length - 1];
    if (!lcpFinal && last !== undefined) lcp = last.startTime;
  });
  const finalizeLcp = () => {
    if (!lcpFinal && lcp !== undefined) add("browser.lcp", lcp);
    lcpFinal = true;
  };
  for (const type of ["keydown", "click", "pointerdown"]) addEventListener(type, finalizeLcp, { once: true, capture: true });

  // CLS: the largest session window of shifts not caused by input.
  let cls = 0;
  let windowValue = 0;
  let windowStart = 0;
  let windowLast = 0;
  observe("layout-shift", (entries) => {
    for (const entry of entries as LayoutShift[]) {
      if (entry.hadRecentInput) continue;
      if (windowValue > 0 && entry.startTime - windowLast < 1000 && entry.startTime - windowStart < 5000) {
        windowValue += entry.value;
      } else {
        windowValue = entry.value;
        windowStart = entry.startTime;
      }
      windowLast = entry.startTime;
      cls = Math.max(cls, windowValue);
    }
  });

  // INP: longest interaction, skipping one per 50 interactions (the p98 of busy pages).
  const interactions = new Map<number, number>();
  observe(
    "event",
    (entries) => {
      for (const entry of entries as EventTiming[]) {
        if (!entry.interactionId) continue;
        interactions.set(entry.interactionId, Math.max(interactions.get(entry.interactionId) ?? 0, entry.duration));
      }
    },
    { durationThreshold: 40 },
  );
  const inp = (): number | undefined => {
    if (interactions.size === 0) return undefined;
    const longest = [...interactions.values()].sort((a, b) => b - a);
    return longest[Math.min(longest.length - 1, Math.floor(interactions.size / 50))];
  };

  // Page-lifetime vitals are reported once per page view, when it is hidden.
  let reported = false;
  const onHidden = () => {
    if (document.visibilityState !== "hidden") return;
    finalizeLcp();
    if (!reported) {
      reported = true;
      add("browser.cls", cls);
      const value = inp();
      if (value !== undefined) add("browser.inp", value);
    }
    send();
  };
  addEventListener("visibilitychange", onHidden, true);
  stops.push(() => removeEventListener("visibilitychange", onHidden, true));

  // Route changes of a single-page app: from the history call to the next frame painted after it.
  const changed = () => {
    const started = performance.now();
    const next = routeOf(location.pathname);
    requestAnimationFrame(() => setTimeout(() => add("browser.route_change.duration", performance.now() - started, next), 0));
    route = next;
  };
  for (const method of ["pushState", "replaceState"] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      changed();
      return result;
    };
    stops.push(() => {
      history[method] = original;
    });
  }
  addEventListener("popstate", changed);
  stops.push(() => removeEventListener("popstate", changed));

  const timer = setInterval(send, options.flushMs ?? 10_000);
  stops.push(() => clearInterval(timer));

  return () => {
    for (const stop of stops.splice(0)) stop();
    send();
  };
}
