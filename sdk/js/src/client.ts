/**
 * The client a service embeds: metrics, spans and logs of one service, buffered and sent to
 * perfpulse over HTTP or Kafka.
 *
 * Recording validates at the call (a bad name or label throws a TypeError naming it, a bad value a
 * RangeError) and appends to a bounded outbox; nothing else happens on the caller's path. A sender
 * builds batches of at most `batchSize` points (500 spans or log records) when that many are waiting
 * or every `lingerMs`, and sends them. When an outbox is full, the oldest waiting batch is dropped,
 * or else the new item, and counted (`stats()`); the caller never waits. `await close()` flushes,
 * and so do the `beforeExit` and `SIGTERM` hooks it installs (`exitHooks: false` to do it yourself).
 */

import { toText } from "./attributes.js";
import type { Attributes } from "./attributes.js";
import { DEFAULT_BATCH_SIZE, ItemOutbox, MAX_BATCH_SIZE, PointOutbox } from "./buffers.js";
import type { Slot } from "./buffers.js";
import { currentCarrier, currentContext, newSpanId, newTraceId, runWithContext } from "./context.js";
import type { ContextCarrier } from "./context.js";
import { Counter, Distribution, Gauge } from "./instruments.js";
import type { Recorder, StopTimer } from "./instruments.js";
import { LIMITS, checkLabels, checkMetricName, checkService } from "./limits.js";
import type { Labels } from "./limits.js";
import type { OutboxStats } from "./outbox.js";
import { LOG_LEVELS } from "./records.js";
import type { LogLevel, LogRecord, MetricKind, SpanKind, SpanRecord } from "./records.js";
import { Sender } from "./sender.js";
import { Span } from "./span.js";
import { createTask, runTask } from "./taskrun.js";
import type { EnqueueOptions, TaskOptions, TaskRun, TaskTicket } from "./taskrun.js";
import { TaskBook } from "./tasks.js";
import { nowNs, runNowMs } from "./time.js";
import { extract, injectContext } from "./traceparent.js";
import type { HeadersLike, SpanContext } from "./traceparent.js";
import { HttpTransport } from "./transport/http.js";
import type { HttpTransportOptions } from "./transport/http.js";
import { KafkaTransport } from "./transport/kafka.js";
import type { KafkaTransportOptions } from "./transport/kafka.js";
import type { Transport } from "./transport/types.js";

export interface PerfpulseOptions {
  /** The service's name: the `service` dimension of everything it sends. */
  service: string;
  /** Send over HTTP to perfpulse's ingest API. */
  http?: HttpTransportOptions;
  /** Send to Kafka directly (needs @platformatic/kafka installed). */
  kafka?: KafkaTransportOptions;
  /** Any other transport (exactly one of `http`, `kafka`, `transport`). */
  transport?: Transport;
  /** Labels of every point (a point's own labels win). */
  labels?: Labels;
  /** Points per batch (one Kafka record or HTTP request), 1 to 2000; default 1000. */
  batchSize?: number;
  /** Longest wait before a partial batch is sent, milliseconds; default 200. */
  lingerMs?: number;
  /** Points held while perfpulse is slow or down; default 200 000. */
  maxBuffer?: number;
  /** Spans held; default 20 000. */
  maxSpanBuffer?: number;
  /** Log records held; default 20 000. */
  maxLogBuffer?: number;
  /** Batches awaiting acknowledgement at once; default 4. */
  maxInFlight?: number;
  /** How long `close()` (and the exit hooks) may take to flush, milliseconds; default 5000. */
  closeTimeoutMs?: number;
  /** Flush on `beforeExit` and `SIGTERM`; default true. */
  exitHooks?: boolean;
  /** Told of every failed send (default: a warning at most every 10 s). */
  onError?: (error: Error) => void;
}

export interface SpanOptions {
  kind?: SpanKind;
  /** The parent: a span, a remote context (see `extract`), or null for a new trace; default the current span. */
  parent?: Span | SpanContext | null;
  tags?: Attributes;
  /** Start time, epoch ns; default now. */
  startNs?: bigint;
}

/** What the client has done, per kind of item. */
export interface PerfpulseStats {
  points: OutboxStats;
  spans: OutboxStats;
  logs: OutboxStats;
  lastError: string;
}

const LEVEL_ALIASES: Record<string, LogLevel> = { warning: "warn", critical: "fatal", err: "error" };
const WARN_EVERY_MS = 10_000;

export class Perfpulse implements Recorder {
  readonly service: string;
  readonly labels: Labels;
  private readonly batchSize: number;
  private readonly transport: Transport;
  private readonly points: PointOutbox;
  private readonly spans: ItemOutbox<SpanRecord>;
  private readonly logs: ItemOutbox<LogRecord>;
  private readonly sender: Sender;
  private readonly closeTimeoutMs: number;
  private closing: Promise<boolean> | undefined;
  private readonly hooks: [string, () => void][] = [];

  constructor(options: PerfpulseOptions) {
    const problem = checkService(options.service);
    if (problem !== undefined) throw new TypeError(`cannot create perfpulse client: ${problem}`);
    this.service = options.service;
    this.labels = { ...options.labels };
    const labelProblem = checkLabels(this.labels);
    if (labelProblem !== undefined) throw new TypeError(`cannot create perfpulse client: default ${labelProblem}`);
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_BATCH_SIZE) {
      throw new RangeError(`cannot create perfpulse client: batchSize must be in 1..${MAX_BATCH_SIZE}, got ${this.batchSize}`);
    }
    const lingerMs = options.lingerMs ?? 200;
    const maxBuffer = options.maxBuffer ?? 200_000;
    const maxSpans = options.maxSpanBuffer ?? 20_000;
    const maxLogs = options.maxLogBuffer ?? 20_000;
    if (!(lingerMs > 0) || !(Math.min(maxBuffer, maxSpans, maxLogs) >= 1)) {
      throw new RangeError(
        `cannot create perfpulse client: lingerMs, maxBuffer, maxSpanBuffer and maxLogBuffer must be positive, ` +
          `got ${lingerMs}, ${maxBuffer}, ${maxSpans} and ${maxLogs}`,
      );
    }
    this.transport = makeTransport(options);
    this.points = new PointOutbox(maxBuffer, this.batchSize);
    this.spans = new ItemOutbox<SpanRecord>("spans", maxSpans, LIMITS.maxItemsPerRecord);
    this.logs = new ItemOutbox<LogRecord>("log records", maxLogs, LIMITS.maxItemsPerRecord);
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.sender = new Sender(
      [
        { outbox: this.points, send: (batch) => this.transport.sendMetrics(this.service, batch as never) },
        { outbox: this.spans, send: (batch) => this.transport.sendSpans(this.service, batch as never) },
        { outbox: this.logs, send: (batch) => this.transport.sendLogs(this.service, batch as never) },
      ],
      lingerMs,
      options.maxInFlight ?? 4,
      options.onError ?? rateLimitedWarning(this.service),
    );
    if (options.exitHooks ?? true) this.installExitHooks();
  }

  // ------------------------------------------------------------------ metrics

  /** A distribution (latencies in ms, sizes): `pp.distribution("http.server.duration").bind({route}).observe(12.5)`. */
  distribution(name: string): Distribution {
    return new Distribution(this, this.checkName(name));
  }

  counter(name: string): Counter {
    return new Counter(this, this.checkName(name));
  }

  gauge(name: string): Gauge {
    return new Gauge(this, this.checkName(name));
  }

  /** Start timing into distribution `name`; the returned function records the elapsed ms. */
  timer(name: string, labels?: Labels): StopTimer {
    return this.distribution(name).startTimer(labels);
  }

  /** Record one observation of distribution `name`. */
  observe(name: string, value: number, labels?: Labels): void {
    this.record(this.slot(name, "distribution", labels), value);
  }

  /** @internal The series slot of a metric (see `Recorder`). */
  slot(name: string, kind: MetricKind, labels: Labels | undefined): Slot {
    const merged = labels === undefined ? this.labels : { ...this.labels, ...labels };
    const slot = this.points.slot(name, kind, merged);
    if (!this.checkedSlots.has(slot)) {
      const problem = checkMetricName(name) ?? checkLabels(merged);
      if (problem !== undefined) throw new TypeError(`cannot record ${name}: ${problem}`);
      this.checkedSlots.add(slot);
    }
    return slot;
  }

  private readonly checkedSlots = new WeakSet<Slot>();

  /** @internal Record a value (see `Recorder`). */
  record(slot: Slot, value: number): void {
    if (!(value <= LIMITS.maxAbsValue && value >= -LIMITS.maxAbsValue)) {
      throw new RangeError(`cannot record ${slot.name}: value ${value} is not a finite number within ±1e18`);
    }
    if (this.closing !== undefined) {
      this.points.dropped++;
      return;
    }
    if (this.points.add(slot, value, runNowMs()) && this.points.open >= this.batchSize) this.sender.wake();
  }

  // ------------------------------------------------------------------ spans

  /** Start a span (not made current: see `span` for that). End it with `span.end()`. */
  startSpan(operation: string, options: SpanOptions = {}): Span {
    const parent = options.parent === undefined ? currentContext() : options.parent === null ? undefined : contextOf(options.parent);
    const context: SpanContext = {
      traceId: parent?.traceId ?? newTraceId(),
      spanId: newSpanId(),
      sampled: parent?.sampled ?? true,
      remote: false,
      traceState: parent?.traceState ?? "",
    };
    return new Span(
      this.service,
      operation,
      options.kind ?? "internal",
      context,
      parent?.spanId ?? null,
      options.tags,
      (record) => this.addSpan(record),
      options.startNs,
    );
  }

  /**
   * Run `fn` inside a new span, current for everything `fn` starts (promises, timers, callbacks),
   * ended when `fn` returns or its promise settles; a throw or rejection marks it an error and is
   * passed on.
   */
  span<T>(operation: string, fn: (span: Span) => T, options: SpanOptions = {}): T {
    const span = this.startSpan(operation, options);
    return runWithContext(span, () => {
      let result: T;
      try {
        result = fn(span);
      } catch (error) {
        span.recordError(error).end();
        throw error;
      }
      if (result instanceof Promise) {
        return result.then(
          (value: unknown) => {
            span.end();
            return value;
          },
          (error: unknown) => {
            span.recordError(error).end();
            throw error;
          },
        ) as T;
      }
      span.end();
      return result;
    });
  }

  /** The current span, if one of this process's spans is current. */
  currentSpan(): Span | undefined {
    const carrier = currentCarrier();
    return carrier instanceof Span ? carrier : undefined;
  }

  private addSpan(record: SpanRecord): void {
    if (this.closing !== undefined) {
      this.spans.dropped++;
      return;
    }
    if (this.spans.add(record) && this.spans.open >= this.spans.fillAt) this.sender.wake();
  }

  // ------------------------------------------------------------------ task queues

  private readonly taskBook = new TaskBook();

  /**
   * Run `fn` as one run of a task of `taskType`: records its queue wait (from `enqueuedMs`, or the
   * oldest in-process enqueue of its type and priority), the queue length and in-flight gauges, and
   * its execution time as `ai.task.duration` with its outcome (completed; failed when it throws;
   * timed_out for a `TimeoutError`; cancelled for an `AbortError`; or what `run.setOutcome` said),
   * inside a CONSUMER span `task <type>`. Throws a TypeError naming a bad type or priority.
   */
  task<T>(taskType: string, fn: (run: TaskRun) => T | Promise<T>, options: TaskOptions = {}): Promise<T> {
    return runTask(this, this.taskBook, taskType, fn, options);
  }

  /**
   * Run `fn` as the creation of a task of `taskType` (the work of enqueueing it): records
   * `ai.task.creation_time` once it resolves and, for an in-process queue, counts the task as
   * waiting. `fn` gets the enqueue time to carry with the job (`ticket.enqueuedMs`).
   */
  enqueueTask<T>(taskType: string, fn: (ticket: TaskTicket) => T | Promise<T>, options: EnqueueOptions = {}): Promise<T> {
    return createTask(this, this.taskBook, taskType, fn, options);
  }

  // ------------------------------------------------------------------ logs

  /** A log record, carrying the current span's trace and span ids. */
  log(level: LogLevel | string, message: string, attributes?: Attributes): void {
    const lower = String(level).toLowerCase();
    const parsed = (LOG_LEVELS as readonly string[]).includes(lower) ? (lower as LogLevel) : LEVEL_ALIASES[lower];
    if (parsed === undefined) {
      throw new TypeError(`cannot log: level ${JSON.stringify(level)} must be one of ${LOG_LEVELS.join(", ")}`);
    }
    if (this.closing !== undefined) {
      this.logs.dropped++;
      return;
    }
    const context = currentContext();
    const record: LogRecord = {
      tsNs: nowNs(),
      service: this.service,
      level: parsed,
      message: String(message).slice(0, LIMITS.maxMessageLength),
      attributes: toText(attributes),
      traceId: context?.traceId ?? null,
      spanId: context?.spanId ?? null,
    };
    if (this.logs.add(record) && this.logs.open >= this.logs.fillAt) this.sender.wake();
  }

  // ------------------------------------------------------------------ lifecycle

  /** Send everything recorded so far; resolves true once perfpulse acknowledged it all, false when
   * something was dropped meanwhile or `timeoutMs` passed first (what is left stays buffered and is
   * still sent). */
  flush(timeoutMs = this.closeTimeoutMs): Promise<boolean> {
    return this.sender.flush(timeoutMs);
  }

  /** Flush (at most `closeTimeoutMs`), then stop: later records are dropped and counted. Resolves
   * whether everything was delivered. Idempotent. */
  close(): Promise<boolean> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<boolean> {
    for (const [event, listener] of this.hooks) process.removeListener(event, listener);
    const delivered = await this.sender.flush(this.closeTimeoutMs);
    this.sender.stop();
    for (const outbox of [this.points, this.spans, this.logs]) outbox.discard();
    await this.transport.close();
    return delivered;
  }

  stats(): PerfpulseStats {
    return { points: this.points.stats(), spans: this.spans.stats(), logs: this.logs.stats(), lastError: this.sender.lastError };
  }

  /** Items dropped so far, of every kind. */
  get dropped(): number {
    return this.points.dropped + this.spans.dropped + this.logs.dropped;
  }

  private checkName(name: string): string {
    const problem = checkMetricName(name);
    if (problem !== undefined) throw new TypeError(`cannot create instrument: ${problem}`);
    return name;
  }

  private installExitHooks(): void {
    const onBeforeExit = () => void this.close();
    // A SIGTERM listener replaces Node's default exit: once flushed, exit as Node would have,
    // unless the application listens too (then its own handler decides).
    const onTerm = () => {
      void this.close().finally(() => {
        if (process.listenerCount("SIGTERM") === 0) process.kill(process.pid, "SIGTERM");
      });
    };
    this.hooks.push(["beforeExit", onBeforeExit], ["SIGTERM", onTerm]);
    process.once("beforeExit", onBeforeExit);
    process.once("SIGTERM", onTerm);
  }
}

function contextOf(parent: Span | SpanContext | ContextCarrier): SpanContext {
  return "context" in parent ? parent.context : parent;
}

function makeTransport(options: PerfpulseOptions): Transport {
  const given = [options.http, options.kafka, options.transport].filter((t) => t !== undefined).length;
  if (given !== 1) {
    throw new TypeError(`cannot create perfpulse client: give exactly one of http, kafka and transport, got ${given}`);
  }
  if (options.http !== undefined) return new HttpTransport(options.http);
  if (options.kafka !== undefined) return new KafkaTransport(options.kafka);
  return options.transport as Transport;
}

function rateLimitedWarning(service: string): (error: Error) => void {
  let last = 0;
  let suppressed = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < WARN_EVERY_MS) {
      suppressed++;
      return;
    }
    const more = suppressed > 0 ? ` (${suppressed} more failures since the last warning)` : "";
    console.warn(`perfpulse (${service}): ${error.message}${more}`);
    last = now;
    suppressed = 0;
  };
}

/** Run `fn` with the trace of the request whose `headers` are given as the current context:
 * spans started within continue it (a new trace starts when they carry none). */
export function continueTrace<T>(headers: HeadersLike, fn: () => T): T {
  return runWithContext(extract(headers), fn);
}

/** Write `traceparent` naming `context` (default: the current span) into `headers`; unchanged
 * when there is no context. */
export function inject<H extends { set(name: string, value: string): unknown } | Record<string, string>>(
  headers: H,
  context?: Span | SpanContext,
): H {
  const chosen = context === undefined ? currentContext() : contextOf(context);
  return chosen === undefined ? headers : injectContext(headers, chosen);
}
