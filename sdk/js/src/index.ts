/**
 * @perfpulse/sdk: metrics, spans and logs of a Node service to perfpulse, over HTTP or Kafka.
 *
 * ```ts
 * import { Perfpulse } from "@perfpulse/sdk";
 * const pp = new Perfpulse({ service: "checkout", http: { url: "http://127.0.0.1:8080", key: process.env.PERFPULSE_KEY } });
 * const latency = pp.distribution("http.server.duration").bind({ route: "/cart" });
 * latency.observe(12.5);
 * await pp.close();
 * ```
 */

export { Perfpulse, continueTrace, inject } from "./client.js";
export type { PerfpulseOptions, PerfpulseStats, SpanOptions } from "./client.js";
export { BoundCounter, BoundDistribution, BoundGauge, Counter, Distribution, Gauge } from "./instruments.js";
export type { StopTimer } from "./instruments.js";
export { Span } from "./span.js";
export { TaskRun } from "./taskrun.js";
export type { EnqueueOptions, TaskOptions, TaskTicket } from "./taskrun.js";
export { TaskBook, outcomeOf } from "./tasks.js";
export type { TaskOutcome, TaskPoint } from "./tasks.js";
export type { Attributes, AttributeValue } from "./attributes.js";
export { currentContext } from "./context.js";
export { TRACEPARENT, TRACESTATE, extract, formatTraceparent, parseTraceparent } from "./traceparent.js";
export type { HeadersLike, SpanContext } from "./traceparent.js";
export { HttpTransport } from "./transport/http.js";
export type { HttpTransportOptions } from "./transport/http.js";
export { KafkaTransport } from "./transport/kafka.js";
export type { KafkaTransportOptions } from "./transport/kafka.js";
export { TransportError } from "./transport/types.js";
export type { Transport } from "./transport/types.js";
export type { OutboxStats } from "./outbox.js";
export type { Labels } from "./limits.js";
export type { LogLevel, LogRecord, MetricKind, SeriesPoints, SpanKind, SpanRecord, SpanStatus } from "./records.js";
