// The TypeScript encoders write exactly the records perfpulse's Python encoders write: the shared
// vectors of schemas/vectors/ (generated from the Python side) give each input's key, headers and
// value bytes.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { logsRecord, metricsRecord, spansRecord } from "@perfpulse/sdk/wire";

const VECTORS = new URL("../../../schemas/vectors/", import.meta.url);

function load(kind) {
  return JSON.parse(readFileSync(new URL(`${kind}.json`, VECTORS), "utf8"));
}

function span(s) {
  return {
    traceId: s.trace_id,
    spanId: s.span_id,
    parentSpanId: s.parent_span_id,
    service: s.service,
    operation: s.operation,
    startNs: BigInt(s.start_ns),
    endNs: BigInt(s.end_ns),
    kind: s.kind,
    status: s.status,
    statusMessage: s.status_message,
    tags: s.tags,
    events: s.events.map((e) => ({ tsNs: BigInt(e.ts_ns), message: e.message, level: e.level, attributes: e.attributes })),
  };
}

function log(r) {
  return {
    tsNs: BigInt(r.ts_ns),
    service: r.service,
    level: r.level,
    message: r.message,
    attributes: r.attributes,
    traceId: r.trace_id,
    spanId: r.span_id,
  };
}

const ENCODE = {
  metrics: (input) => metricsRecord(input.service, input.series),
  spans: (input) => spansRecord(input.spans.map(span)),
  logs: (input) => logsRecord(input.logs.map(log)),
};

for (const kind of Object.keys(ENCODE)) {
  const cases = load(kind);
  test(`${kind}: ${cases.length} vectors`, () => assert.ok(cases.length > 0));
  for (const { name, input, expected } of cases) {
    test(`${kind}: ${name}`, () => {
      const record = ENCODE[kind](input);
      assert.equal(record.key, expected.key);
      assert.deepEqual(record.headers, expected.headers);
      assert.equal(record.value, expected.value);
      assert.deepEqual(Buffer.from(record.value), Buffer.from(expected.value, "utf8"), "the same UTF-8 bytes");
    });
  }
}
