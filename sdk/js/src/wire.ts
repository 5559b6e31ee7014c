/**
 * Kafka record encoding, byte for byte what perfpulse's Python encoders write (schemas/wire.py
 * encode_metric_batch, schemas/spans.py encode_spans, schemas/logs.py encode_logs, all through
 * orjson), plus the record's key and type header (schemas/records.py). The shared test vectors in
 * schemas/vectors/ hold both sides to it.
 *
 * orjson writes compact JSON in insertion order and differs from JSON.stringify in floats only:
 * an integral float keeps ".0", -0 is "-0.0", and magnitudes below 1e-5 or from 1e16 are written
 * with an exponent ("4.2e-6", "1e+16"). Metric values are numpy float64 there, so every value is a float.
 */

import type { Labels } from "./limits.js";
import type { LogRecord, SeriesPoints, SpanRecord } from "./records.js";

export const WIRE_VERSION = 1;
/** The header naming a record's type (schemas/records.py TYPE_HEADER). */
export const TYPE_HEADER = "perfpulse-type";

/** The record types the SDK writes (schemas/records.py RecordType). */
export type RecordType = "metrics" | "spans" | "logs";

/** A Kafka record as produced: key, value and headers, all as text (UTF-8 on the wire). */
export interface WireRecord {
  key: string;
  value: string;
  headers: [string, string][];
}

/** A float as orjson writes it. */
export function formatFloat(value: number): string {
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const magnitude = Math.abs(value);
  // orjson writes an exponent below 1e-5 and from 1e16 (JavaScript: below 1e-6 and from 1e21), with
  // the same shortest digits toExponential() gives: "1.5e+16", "4.2e-6".
  if (magnitude < 1e-5 || magnitude >= 1e16) return value.toExponential();
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function text(value: string): string {
  // orjson refuses lone surrogates; a well-formed string encodes the same in both.
  return JSON.stringify(value.toWellFormed());
}

function textMap(map: Labels): string {
  const parts: string[] = [];
  for (const key of Object.keys(map)) parts.push(`${text(key)}:${text(map[key] as string)}`);
  return `{${parts.join(",")}}`;
}

function integers(values: readonly number[]): string {
  return `[${values.join(",")}]`;
}

function series(s: SeriesPoints): string {
  const values = s.values.map(formatFloat).join(",");
  const weights = s.weights === undefined ? "" : `,"weights":${integers(s.weights)}`;
  return (
    `{"name":${text(s.name)},"kind":${text(s.kind)},"labels":${textMap(s.labels)},` +
    `"ts":${integers(s.ts)},"values":[${values}]${weights}}`
  );
}

/** The value of one `metrics` record: a batch of series of one service. */
export function encodeMetricBatch(service: string, batch: readonly SeriesPoints[]): string {
  return `{"type":"metrics","v":${WIRE_VERSION},"service":${text(service)},"series":[${batch.map(series).join(",")}]}`;
}

function span(s: SpanRecord): string {
  const events = s.events.map(
    (e) =>
      `{"ts_ns":${e.tsNs},"message":${text(e.message)},"level":${text(e.level)},"attributes":${textMap(e.attributes)}}`,
  );
  return (
    `{"trace_id":${text(s.traceId)},"span_id":${text(s.spanId)},` +
    `"parent_span_id":${s.parentSpanId === null ? "null" : text(s.parentSpanId)},` +
    `"service":${text(s.service)},"operation":${text(s.operation)},"start_ns":${s.startNs},"end_ns":${s.endNs},` +
    `"kind":${text(s.kind)},"status":${text(s.status)},"status_message":${text(s.statusMessage)},` +
    `"tags":${textMap(s.tags)},"events":[${events.join(",")}]}`
  );
}

/** The value of one `spans` record. */
export function encodeSpans(spans: readonly SpanRecord[]): string {
  return `{"type":"spans","v":1,"spans":[${spans.map(span).join(",")}]}`;
}

function log(r: LogRecord): string {
  return (
    `{"ts_ns":${r.tsNs},"service":${text(r.service)},"level":${text(r.level)},"message":${text(r.message)},` +
    `"attributes":${textMap(r.attributes)},"trace_id":${r.traceId === null ? "null" : text(r.traceId)},` +
    `"span_id":${r.spanId === null ? "null" : text(r.spanId)}}`
  );
}

/** The value of one `logs` record. */
export function encodeLogs(records: readonly LogRecord[]): string {
  return `{"type":"logs","v":1,"logs":[${records.map(log).join(",")}]}`;
}

/** The headers of a record of type `kind`. */
export function typeHeaders(kind: RecordType): [string, string][] {
  return [[TYPE_HEADER, kind]];
}

/** A `metrics` record of `service` (key: the service). */
export function metricsRecord(service: string, batch: readonly SeriesPoints[]): WireRecord {
  return { key: service, value: encodeMetricBatch(service, batch), headers: typeHeaders("metrics") };
}

/** A `spans` record (key: the service of its spans; the SDK's spans are all of one service). */
export function spansRecord(spans: readonly SpanRecord[]): WireRecord {
  return { key: spans[0]?.service ?? "", value: encodeSpans(spans), headers: typeHeaders("spans") };
}

/** A `logs` record (key: its first record's service). */
export function logsRecord(records: readonly LogRecord[]): WireRecord {
  return { key: records[0]?.service ?? "", value: encodeLogs(records), headers: typeHeaders("logs") };
}
