/**
 * Express middleware: per request a SERVER span (continuing the caller's `traceparent`, current for
 * the handlers, so their spans and logs nest under it) and one `http.server.duration` observation in
 * ms labelled `route` (the matched route template, e.g. `/cart/:id`; `unmatched` when no route
 * matched, never the raw path), `method` and `status_code`. The response carries `traceresponse`
 * naming the server span. `app.use(perfpulseExpress(pp))` before the routes.
 */

import type { IncomingMessage, ServerResponse } from "node:http";

import type { Perfpulse } from "./client.js";
import { runWithContext } from "./context.js";
import { requestEnded, requestStarted } from "./server.js";

/** The parts of Express's request this middleware reads. */
interface ExpressRequest extends IncomingMessage {
  baseUrl?: string;
  route?: { path?: unknown };
}

export interface ExpressOptions {
  /** The metric name; default `http.server.duration`. */
  metric?: string;
}

export function perfpulseExpress(
  pp: Perfpulse,
  options: ExpressOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  const metric = pp.distribution(options.metric ?? "http.server.duration");
  return (req, res, next) => {
    const started = requestStarted(pp, req, res);
    res.once("finish", () => requestEnded(metric, started, routeOf(req as ExpressRequest), res.statusCode));
    res.once("close", () => {
      if (!res.writableFinished) requestEnded(metric, started, routeOf(req as ExpressRequest), 499);
    });
    runWithContext(started.span, () => next());
  };
}

function routeOf(req: ExpressRequest): string {
  const path = req.route?.path;
  if (typeof path !== "string") return "unmatched";
  return `${req.baseUrl ?? ""}${path}` || "/";
}
