/**
 * Fastify plugin: per request a SERVER span (continuing the caller's `traceparent`, current for the
 * handler, so its spans and logs nest under it) and one `http.server.duration` observation in ms
 * labelled `route` (the route template, e.g. `/cart/:id`; `unmatched` for a 404, never the raw
 * path), `method` and `status_code`; `traceresponse` on the reply. `await app.register(perfpulseFastify(pp))`.
 */

import type { IncomingMessage, ServerResponse } from "node:http";

import type { Perfpulse } from "./client.js";
import { runWithContext } from "./context.js";
import { requestEnded, requestStarted } from "./server.js";
import type { Started } from "./server.js";

/** The parts of Fastify's request and reply this plugin reads. */
interface FastifyRequestLike {
  raw: IncomingMessage;
  routeOptions?: { url?: string };
  is404?: boolean;
}
interface FastifyReplyLike {
  raw: ServerResponse;
  statusCode: number;
}
type Hook = (request: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => void;
interface FastifyLike {
  addHook(name: "onRequest" | "onResponse", hook: Hook): unknown;
}

export interface FastifyOptions {
  /** The metric name; default `http.server.duration`. */
  metric?: string;
}

const STARTED = Symbol("perfpulse.request");

export function perfpulseFastify(
  pp: Perfpulse,
  options: FastifyOptions = {},
): (app: FastifyLike, opts: unknown, done: () => void) => void {
  const metric = pp.distribution(options.metric ?? "http.server.duration");
  const plugin = (app: FastifyLike, _opts: unknown, done: () => void) => {
    app.addHook("onRequest", (request, reply, next) => {
      const started = requestStarted(pp, request.raw, reply.raw);
      (request as unknown as Record<symbol, Started>)[STARTED] = started;
      // The rest of the request's hooks and its handler run inside the span's context.
      runWithContext(started.span, next);
    });
    app.addHook("onResponse", (request, reply, next) => {
      const started = (request as unknown as Record<symbol, Started | undefined>)[STARTED];
      if (started !== undefined) {
        const route = request.is404 || !request.routeOptions?.url ? "unmatched" : request.routeOptions.url;
        requestEnded(metric, started, route, reply.statusCode);
      }
      next();
    });
    done();
  };
  // Not encapsulated: the hooks apply to every route of the app (what fastify-plugin marks).
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for("skip-override")] = true;
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for("fastify.display-name")] = "perfpulse";
  return plugin;
}
