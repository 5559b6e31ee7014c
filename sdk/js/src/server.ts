/** What the server middlewares share: the SERVER span of a request and its RED observation. */

import type { IncomingMessage, ServerResponse } from "node:http";

import type { Perfpulse } from "./client.js";
import type { Distribution } from "./instruments.js";
import type { Span } from "./span.js";
import { extract, formatTraceparent } from "./traceparent.js";

export interface Started {
  span: Span;
  method: string;
  startedMs: number; // performance.now() at the request's start
  ended: boolean;
}

/** Start the SERVER span of `req` (continuing its `traceparent`) and name it in the response's
 * `traceresponse` header. */
export function requestStarted(pp: Perfpulse, req: IncomingMessage, res: ServerResponse): Started {
  const method = (req.method ?? "GET").toUpperCase();
  const span = pp.startSpan(method, { kind: "server", parent: extract(req.headers) ?? null });
  if (!res.headersSent) res.setHeader("traceresponse", formatTraceparent(span.context));
  return { span, method, startedMs: performance.now(), ended: false };
}

/** End the request's span (named `<METHOD> <route>`, an error when 5xx) and observe its duration. */
export function requestEnded(metric: Distribution, started: Started, route: string, status: number): void {
  if (started.ended) return;
  started.ended = true;
  const ms = performance.now() - started.startedMs;
  const { span } = started;
  span.operation = `${started.method} ${route}`;
  span.setTags({ "http.method": started.method, "http.route": route, "http.status_code": status });
  if (status >= 500) span.setStatus("error", `HTTP ${status}`);
  span.end();
  metric.observe(ms, { route, method: started.method, status_code: String(status) });
}
