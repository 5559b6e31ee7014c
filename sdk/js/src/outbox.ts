/**
 * The bounded buffer of one kind of record (points, spans, log records): items wait here, open and
 * then built into batches, until the transport acknowledges them. It holds at most `max` items and
 * never makes the caller wait: when full it drops the oldest batch not in flight, or else the new
 * item, and counts what it dropped.
 *
 * Batches are numbered in build order (`seq`) so a flush can wait for everything built before it.
 */

export interface Batch<T> {
  seq: number; // build order
  n: number; // items it carries (points, spans, log records)
  items: T;
}

/** The counts of one outbox, in items. */
export interface OutboxStats {
  held: number; // buffered, not yet acknowledged (open, built or in flight)
  sent: number; // acknowledged by perfpulse
  dropped: number; // lost: buffer full, refused by perfpulse, or unsent at close
}

export abstract class Outbox<T> {
  held = 0;
  sent = 0;
  dropped = 0;
  /** Items not yet built into a batch. */
  open = 0;
  private readonly queue: Batch<T>[] = []; // built, not in flight, oldest first
  private readonly unsettled = new Set<number>(); // seqs built and not yet acknowledged or dropped
  private nextSeq = 0;

  /**
   * @param what what the items are, for messages: "points", "spans", "log records"
   * @param max items held at most
   * @param fillAt open items that make a full batch (the client sends without waiting for the linger)
   */
  constructor(
    readonly what: string,
    readonly max: number,
    readonly fillAt: number,
  ) {}

  /** Build batches of the open items (the subclass's `cut`); return how many were built. */
  build(): number {
    let built = 0;
    for (const [n, items] of this.cut()) {
      const seq = this.nextSeq++;
      this.queue.push({ seq, n, items });
      this.unsettled.add(seq);
      built++;
    }
    this.open = 0;
    return built;
  }

  /** The open items, in batches, emptied from the buffer: `[items in it, batch]` pairs. */
  protected abstract cut(): Iterable<[number, T]>;

  /** Count one more item in, after dropping the oldest queued batch if the buffer is full; false
   * (the new item counted as dropped) when nothing could be dropped. The caller then stores it. */
  protected reserve(): boolean {
    if (this.held >= this.max && !this.admit()) return false;
    this.held++;
    this.open++;
    return true;
  }

  private admit(): boolean {
    if (this.held < this.max) return true;
    const oldest = this.queue.shift();
    if (oldest !== undefined) {
      this.held -= oldest.n;
      this.dropped += oldest.n;
      this.unsettled.delete(oldest.seq);
      return true;
    }
    this.dropped++;
    return false;
  }

  /** The next batch to send, if any (it is then in flight). */
  take(): Batch<T> | undefined {
    return this.queue.shift();
  }

  /** Put a batch whose sending failed back at the front, to be sent again. */
  requeue(batch: Batch<T>): void {
    this.queue.unshift(batch);
  }

  /** A batch left the buffer: acknowledged, or lost. */
  settle(batch: Batch<T>, acknowledged: boolean): void {
    this.held -= batch.n;
    if (acknowledged) this.sent += batch.n;
    else this.dropped += batch.n;
    this.unsettled.delete(batch.seq);
  }

  /** The seq the next batch will have: a flush waits for every batch before it. */
  get mark(): number {
    return this.nextSeq;
  }

  /** Whether every batch built before `mark` has left the buffer. */
  settledBefore(mark: number): boolean {
    for (const seq of this.unsettled) if (seq < mark) return false;
    return true;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Drop everything queued (at close, once the flush gave up). */
  discard(): void {
    for (const batch of this.queue.splice(0)) this.settle(batch, false);
  }

  stats(): OutboxStats {
    return { held: this.held, sent: this.sent, dropped: this.dropped };
  }
}
