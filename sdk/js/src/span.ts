/**
 * A span in progress. `end()` it once (later calls do nothing); it is then handed to its client's
 * buffer. Tags and logs added after the end are ignored.
 */

import { toText } from "./attributes.js";
import type { Attributes } from "./attributes.js";
import type { ContextCarrier } from "./context.js";
import { LIMITS } from "./limits.js";
import type { LogLevel, SpanEventRecord, SpanKind, SpanRecord, SpanStatus } from "./records.js";
import { nowNs } from "./time.js";
import type { SpanContext } from "./traceparent.js";

export class Span implements ContextCarrier {
  readonly context: SpanContext;
  readonly startNs: bigint;
  private ended = false;
  private status: SpanStatus = "unset";
  private statusMessage = "";
  private readonly tags: Record<string, string>;
  private readonly events: SpanEventRecord[] = [];

  /** @internal Made by `Perfpulse.startSpan`. */
  constructor(
    readonly service: string,
    public operation: string,
    readonly kind: SpanKind,
    context: SpanContext,
    readonly parentSpanId: string | null,
    tags: Attributes | undefined,
    private readonly onEnd: (record: SpanRecord) => void,
    startNs?: bigint,
  ) {
    this.context = context;
    this.startNs = startNs ?? nowNs();
    this.tags = toText(tags);
  }

  get traceId(): string {
    return this.context.traceId;
  }

  get spanId(): string {
    return this.context.spanId;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Add tags (values stored as text; sensitive keys redacted). */
  setTags(tags: Attributes): this {
    if (!this.ended) toText(tags, this.tags);
    return this;
  }

  /** Mark the span ok or an error (an error counts in perfpulse's `span.errors`). */
  setStatus(status: SpanStatus, message = ""): this {
    if (!this.ended) {
      this.status = status;
      this.statusMessage = message;
    }
    return this;
  }

  /** Mark the span an error caused by `error`, and log it on the span. */
  recordError(error: unknown): this {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.setStatus("error", message.slice(0, LIMITS.maxMessageLength));
    return this.log(message, "error");
  }

  /** A log line on the span (its `logs` in perfpulse's trace view). */
  log(message: string, level: LogLevel = "info", attributes?: Attributes): this {
    if (!this.ended && this.events.length < LIMITS.maxSpanEvents) {
      this.events.push({ tsNs: nowNs(), message: message.slice(0, LIMITS.maxMessageLength), level, attributes: toText(attributes) });
    }
    return this;
  }

  /** End the span now (or at `endNs`, epoch ns) and send it. */
  end(endNs?: bigint): void {
    if (this.ended) return;
    this.ended = true;
    const end = endNs ?? nowNs();
    this.onEnd({
      traceId: this.context.traceId,
      spanId: this.context.spanId,
      parentSpanId: this.parentSpanId,
      service: this.service,
      operation: this.operation.slice(0, LIMITS.maxNameLength) || "unnamed",
      startNs: this.startNs,
      endNs: end < this.startNs ? this.startNs : end,
      kind: this.kind,
      status: this.status,
      statusMessage: this.statusMessage,
      tags: this.tags,
      events: this.events,
    });
  }
}
