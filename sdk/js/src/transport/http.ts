/**
 * HTTP transport: batches to perfpulse's ingest API (`POST /api/v1/ingest/metrics|spans|logs`, the
 * JSON envelopes of README.md "HTTP API (v1)"), with `Authorization: Bearer <key>` when a key is
 * given. perfpulse answers 202 once Kafka committed the batch; 503, 409 (the batch's earlier attempt
 * still in progress) and network failures are retried, any other non-2xx refuses the batch. Each
 * batch carries an `Idempotency-Key` of its own, the same on every retry of it, so a retry of a batch
 * perfpulse committed but could not answer is answered from its record, not stored twice.
 */

import type { LogRecord, SeriesPoints, SpanRecord } from "../records.js";
import { rfc3339 } from "../time.js";
import { TransportError } from "./types.js";
import type { Transport } from "./types.js";

export interface HttpTransportOptions {
  /** perfpulse's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key with the `ingest` scope; sent as `Authorization: Bearer <key>`. */
  key?: string;
  /** Per request, milliseconds (default 10 000). */
  timeoutMs?: number;
}

// The fetch of the moment the transport is made: a later wrapper of the global fetch must not
// trace perfpulse's own requests.
const originalFetch = globalThis.fetch;

export class HttpTransport implements Transport {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  // The sender retries a batch by handing over the same array again: its key is kept with it.
  private readonly keys = new WeakMap<object, string>();

  constructor(options: HttpTransportOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (error) {
      throw new TypeError(`cannot create HTTP transport: url ${JSON.stringify(options.url)} is not a URL`, { cause: error });
    }
    this.base = url.href.replace(/\/+$/, "");
    this.headers = { "content-type": "application/json" };
    if (options.key) this.headers.authorization = `Bearer ${options.key}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async sendMetrics(service: string, batch: SeriesPoints[]): Promise<void> {
    const points: unknown[] = [];
    for (const s of batch) {
      for (let i = 0; i < s.values.length; i++) {
        points.push({ name: s.name, value: s.values[i], ts: s.ts[i], kind: s.kind, labels: s.labels });
      }
    }
    await this.post("metrics", batch, { service, points });
  }

  async sendSpans(service: string, spans: SpanRecord[]): Promise<void> {
    const body = spans.map((s) => ({
      traceId: s.traceId,
      spanId: s.spanId,
      ...(s.parentSpanId === null ? {} : { parentSpanId: s.parentSpanId }),
      ...(s.service === service ? {} : { serviceName: s.service }),
      operationName: s.operation,
      startTime: rfc3339(s.startNs),
      endTime: rfc3339(s.endNs),
      tags: s.tags,
      logs: s.events.map((e) => ({ timestamp: rfc3339(e.tsNs), message: e.message, level: e.level, attributes: e.attributes })),
      status: s.status,
      ...(s.statusMessage ? { statusMessage: s.statusMessage } : {}),
      kind: s.kind,
    }));
    await this.post("spans", spans, { service, spans: body });
  }

  async sendLogs(service: string, records: LogRecord[]): Promise<void> {
    const logs = records.map((r) => ({
      ts: rfc3339(r.tsNs),
      level: r.level,
      message: r.message,
      attributes: r.attributes,
      ...(r.traceId === null ? {} : { trace_id: r.traceId }),
      ...(r.spanId === null ? {} : { span_id: r.spanId }),
    }));
    await this.post("logs", records, { service, logs });
  }

  async close(): Promise<void> {}

  private keyOf(batch: object): string {
    let key = this.keys.get(batch);
    if (key === undefined) {
      key = globalThis.crypto.randomUUID();
      this.keys.set(batch, key);
    }
    return key;
  }

  private async post(kind: "metrics" | "spans" | "logs", batch: object, body: unknown): Promise<void> {
    const url = `${this.base}/api/v1/ingest/${kind}`;
    let response: Response;
    try {
      response = await originalFetch(url, {
        method: "POST",
        headers: { ...this.headers, "idempotency-key": this.keyOf(batch) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new TransportError(`cannot send ${kind} to ${url}: ${describe(error)}`, true, { cause: error });
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    const text = (await response.text().catch(() => "")).slice(0, 500);
    // 503: Kafka unavailable behind perfpulse; 409: this batch's earlier attempt is still in
    // progress; 429 and 408 are worth another try too.
    const retryable = response.status >= 500 || [408, 409, 429].includes(response.status);
    throw new TransportError(`cannot send ${kind} to ${url}: HTTP ${response.status} ${text}`, retryable);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
