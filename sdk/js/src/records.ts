/**
 * The records the SDK builds, as perfpulse's schemas define them (schemas/wire.py SeriesPoints,
 * schemas/spans.py Span, schemas/logs.py LogRecord). Times of spans and logs are epoch nanoseconds
 * as bigint: they exceed the 2^53 a number holds exactly.
 */

import type { Labels } from "./limits.js";

/** How the values of a metric are read. */
export type MetricKind =
  | "distribution" // each value is one observation (a latency, a size)
  | "counter" // each value is an increment; rate = sum / seconds
  | "gauge"; // each value is a sampled level

/** The points of one series (service + name + kind + labels) in a batch. */
export interface SeriesPoints {
  name: string;
  kind: MetricKind;
  labels: Labels;
  ts: number[]; // epoch milliseconds, integers, one per value
  values: number[]; // finite
  weights?: number[]; // observations each value stands for (1 to 2^32-1); absent: each counts once
}

export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer";
export type SpanStatus = "unset" | "ok" | "error";
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";
export const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal"];

/** A log line attached to a span. */
export interface SpanEventRecord {
  tsNs: bigint;
  message: string;
  level: LogLevel;
  attributes: Labels;
}

/** A finished span. */
export interface SpanRecord {
  traceId: string; // 32 lowercase hex
  spanId: string; // 16 lowercase hex
  parentSpanId: string | null; // null for a root span
  service: string;
  operation: string;
  startNs: bigint; // epoch ns
  endNs: bigint; // epoch ns, >= startNs
  kind: SpanKind;
  status: SpanStatus;
  statusMessage: string;
  tags: Labels; // attributes, values as text
  events: SpanEventRecord[];
}

/** A structured log record, correlated with the span it was written in. */
export interface LogRecord {
  tsNs: bigint; // epoch ns
  service: string;
  level: LogLevel;
  message: string;
  attributes: Labels;
  traceId: string | null;
  spanId: string | null;
}
