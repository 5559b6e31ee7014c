/** The client's three outboxes: metric points in series slots, spans, and log records. */

import { LIMITS } from "./limits.js";
import type { Labels } from "./limits.js";
import { Outbox } from "./outbox.js";
import type { MetricKind, SeriesPoints } from "./records.js";

/** The open points of one series. A bound instrument keeps its slot, so recording is two pushes. */
export class Slot {
  ts: number[] = [];
  values: number[] = [];
  constructor(
    readonly name: string,
    readonly kind: MetricKind,
    readonly labels: Labels,
  ) {}
}

/** Metric points, open in series slots, built into batches of at most `batchSize` points. */
export class PointOutbox extends Outbox<SeriesPoints[]> {
  private readonly slots = new Map<string, Slot>();
  private dirty: Slot[] = []; // slots with open points

  constructor(max: number, batchSize: number) {
    super("points", max, batchSize);
  }

  /** The slot of a series, created on first use. `labels` are already merged and checked. */
  slot(name: string, kind: MetricKind, labels: Labels): Slot {
    const key = seriesKey(name, kind, labels);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = new Slot(name, kind, labels);
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** Record a point; false when the buffer is full (the point is dropped and counted). */
  add(slot: Slot, value: number, tsMs: number): boolean {
    if (!this.reserve()) return false;
    if (slot.values.length === 0) this.dirty.push(slot);
    slot.ts.push(tsMs);
    slot.values.push(value);
    return true;
  }

  protected *cut(): Iterable<[number, SeriesPoints[]]> {
    const dirty = this.dirty;
    this.dirty = [];
    let batch: SeriesPoints[] = [];
    let points = 0;
    for (const slot of dirty) {
      const { ts, values } = slot;
      slot.ts = [];
      slot.values = [];
      for (let start = 0; start < values.length; ) {
        const take = Math.min(values.length - start, this.fillAt - points);
        const end = start + take;
        batch.push({ name: slot.name, kind: slot.kind, labels: slot.labels, ts: ts.slice(start, end), values: values.slice(start, end) });
        points += take;
        start = end;
        if (points >= this.fillAt) {
          yield [points, batch];
          batch = [];
          points = 0;
        }
      }
    }
    if (points > 0) yield [points, batch];
  }
}

/** Spans or log records, built into batches of at most `fillAt`. */
export class ItemOutbox<T> extends Outbox<T[]> {
  private items: T[] = [];

  /** Buffer an item; false when the buffer is full (the item is dropped and counted). */
  add(item: T): boolean {
    if (!this.reserve()) return false;
    this.items.push(item);
    return true;
  }

  protected *cut(): Iterable<[number, T[]]> {
    const items = this.items;
    this.items = [];
    for (let i = 0; i < items.length; i += this.fillAt) {
      const chunk = items.slice(i, i + this.fillAt);
      yield [chunk.length, chunk];
    }
  }
}

/** The identity of a series: name, kind and labels in key order. */
export function seriesKey(name: string, kind: MetricKind, labels: Labels): string {
  const keys = Object.keys(labels).sort();
  let key = `${name}\u0000${kind}`;
  for (const k of keys) key += `\u0000${k}\u0001${labels[k]}`;
  return key;
}

export const DEFAULT_BATCH_SIZE = 1000;
export const MAX_BATCH_SIZE = LIMITS.maxPointsPerRecord;
