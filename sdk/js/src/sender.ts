/**
 * Moves built batches from the outboxes to the transport: every `lingerMs`, or at once when an
 * outbox holds a full batch. At most `maxInFlight` batches are in flight; a batch the transport
 * could not deliver (perfpulse or Kafka unavailable) goes back to the front of its outbox and is
 * tried again after a backoff (0.2 s doubling to 5 s); a refused one is dropped and counted.
 * Nothing here ever blocks the caller: recording only appends to an outbox.
 */

import type { Outbox } from "./outbox.js";
import { TransportError } from "./transport/types.js";

/** One outbox and how a batch of it is sent. */
export interface Lane {
  outbox: Outbox<unknown>;
  send(items: unknown): Promise<void>;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;

export class Sender {
  private readonly timer: NodeJS.Timeout;
  private woken = false;
  private stopped = false;
  private inFlight = 0;
  private next = 0; // the lane looked at first, so busy points never starve spans
  private backoffMs = MIN_BACKOFF_MS;
  private retryAt = 0; // epoch ms before which nothing is sent (after a failure)
  private retryTimer: NodeJS.Timeout | undefined;
  private waiters: { done: () => boolean; resolve: () => void }[] = [];
  /** The last failure, for `stats()`. */
  lastError = "";

  constructor(
    private readonly lanes: Lane[],
    lingerMs: number,
    private readonly maxInFlight: number,
    private readonly onError: (error: Error) => void,
  ) {
    // Unref'd: a client never keeps the process alive; beforeExit flushes it.
    this.timer = setInterval(() => this.pump(true), lingerMs).unref();
  }

  /** Send soon without waiting for the linger (an outbox holds a full batch). */
  wake(): void {
    if (this.woken) return;
    this.woken = true;
    setImmediate(() => {
      this.woken = false;
      this.pump(true);
    });
  }

  /** Build what is open (when `build`) and send what the in-flight bound allows. */
  pump(build: boolean): void {
    if (build) for (const lane of this.lanes) if (lane.outbox.open > 0) lane.outbox.build();
    while (this.inFlight < this.maxInFlight && Date.now() >= this.retryAt) {
      const taken = this.take();
      if (taken === undefined) break;
      this.send(taken[0], taken[1]);
    }
    this.notify();
  }

  /** Waits until every batch built before the call (after building what is open) has been
   * acknowledged or dropped, or `timeoutMs` passed; resolves true when all were acknowledged and
   * nothing was dropped meanwhile, else false. */
  async flush(timeoutMs: number): Promise<boolean> {
    const droppedBefore = this.dropped();
    const settled = await this.settle(timeoutMs);
    return settled && this.dropped() === droppedBefore;
  }

  private dropped(): number {
    return this.lanes.reduce((n, lane) => n + lane.outbox.dropped, 0);
  }

  private settle(timeoutMs: number): Promise<boolean> {
    this.pump(true);
    const marks = this.lanes.map((lane) => lane.outbox.mark);
    const done = () => this.lanes.every((lane, i) => lane.outbox.settledBefore(marks[i] as number));
    if (done()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timeout = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = {
        done,
        resolve: () => {
          clearTimeout(timeout);
          resolve(true);
        },
      };
      this.waiters.push(waiter);
      // A retry pending behind a backoff would otherwise wait for its timer: try now.
      this.retryAt = 0;
      this.pump(false);
    });
  }

  /** Stop the timers; batches in flight still settle (a failed one is then dropped, not retried). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
  }

  private take(): [Lane, { seq: number; n: number; items: unknown }] | undefined {
    const n = this.lanes.length;
    for (let i = 0; i < n; i++) {
      const lane = this.lanes[(this.next + i) % n] as Lane;
      const batch = lane.outbox.take();
      if (batch !== undefined) {
        this.next = (this.next + i + 1) % n;
        return [lane, batch];
      }
    }
    return undefined;
  }

  private send(lane: Lane, batch: { seq: number; n: number; items: unknown }): void {
    this.inFlight++;
    lane.send(batch.items).then(
      () => {
        this.backoffMs = MIN_BACKOFF_MS;
        lane.outbox.settle(batch, true);
        this.settled();
      },
      (error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.lastError = failure.message;
        if (failure instanceof TransportError && failure.retryable && !this.stopped) {
          lane.outbox.requeue(batch);
          this.backOff();
        } else {
          lane.outbox.settle(batch, false);
        }
        this.onError(failure);
        this.settled();
      },
    );
  }

  private settled(): void {
    this.inFlight--;
    this.pump(false);
  }

  private backOff(): void {
    this.retryAt = Date.now() + this.backoffMs;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.pump(false), this.backoffMs).unref();
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const still = [];
    for (const waiter of this.waiters) {
      if (waiter.done()) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }
}
