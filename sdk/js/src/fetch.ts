/**
 * A `fetch` that traces its calls: a CLIENT span per request (child of the current span), the
 * request's `traceparent` naming it, and one `http.client.duration` observation in ms labelled
 * `method`, `status_code` (`error` when no response came) and `host`.
 * `const tracedFetch = perfpulseFetch(pp)`, then use it as `fetch`.
 */

import type { Perfpulse } from "./client.js";
import { injectContext } from "./traceparent.js";

export interface FetchOptions {
  /** The fetch to wrap; default the global one. */
  fetch?: typeof fetch;
  /** The metric name; default `http.client.duration`. */
  metric?: string;
}

export function perfpulseFetch(pp: Perfpulse, options: FetchOptions = {}): typeof fetch {
  const inner = options.fetch ?? globalThis.fetch;
  const metric = pp.distribution(options.metric ?? "http.client.duration");
  return async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const span = pp.startSpan(`${method} ${url.host}`, {
      kind: "client",
      tags: { "http.method": method, "http.url": `${url.origin}${url.pathname}`, "server.address": url.host },
    });
    injectContext(request.headers, span.context);
    const started = performance.now();
    let status = "error";
    try {
      const response = await inner(request);
      status = String(response.status);
      span.setTags({ "http.status_code": response.status });
      if (response.status >= 500) span.setStatus("error", `HTTP ${response.status}`);
      return response;
    } catch (error) {
      span.recordError(error);
      throw error;
    } finally {
      span.end();
      metric.observe(performance.now() - started, { method, status_code: status, host: url.host });
    }
  };
}
