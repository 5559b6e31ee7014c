// What the Express and Fastify tests check in perfpulse once their requests were served.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { counts, eventually, getJson } from "./perfpulse.mjs";

/** GET `url` as a caller in a trace would (a random `traceparent`); returns the ids involved, the
 * server span's read from the response's `traceresponse`. */
export async function tracedRequest(url) {
  const traceId = randomBytes(16).toString("hex");
  const parentSpanId = randomBytes(8).toString("hex");
  const response = await fetch(url, { headers: { traceparent: `00-${traceId}-${parentSpanId}-01` } });
  assert.equal(response.status, 200);
  const serverSpanId = response.headers.get("traceresponse").split("-")[2];
  return { traceId, parentSpanId, serverSpanId };
}

/**
 * `http.server.duration` counts by "METHOD route status" are `expected`; the trace `traceId` holds
 * the server span `serverSpanId` (child of the caller's `parentSpanId`, named `operation`) and
 * under it the handler's span `childOperation`.
 */
export async function checkServerTelemetry(url, service, startMs, expected, trace) {
  const groups = await eventually("http.server.duration by route, method and status", async () => {
    const series = await counts(url, "http.server.duration", service, startMs, "route,method,status_code");
    return series.length === Object.keys(expected).length ? series : undefined;
  });
  const found = Object.fromEntries(groups.map((s) => [`${s.group.method} ${s.group.route} ${s.group.status_code}`, s.count]));
  assert.deepEqual(found, expected);

  const stored = await eventually("the request's trace", async () => {
    const { status, body } = await getJson(url, `/api/v1/traces/${trace.traceId}`);
    return status === 200 && body.spans.length === 2 ? body : undefined;
  });
  const [serverSpan, child] = stored.spans;
  assert.equal(serverSpan.span_id, trace.serverSpanId, "traceresponse named the server span");
  assert.equal(serverSpan.parent_span_id, trace.parentSpanId);
  assert.equal(serverSpan.operation, trace.operation);
  assert.equal(serverSpan.kind, "server");
  assert.equal(serverSpan.tags["http.status_code"], "200");
  assert.equal(child.operation, trace.childOperation);
  assert.equal(child.parent_span_id, serverSpan.span_id);
}
