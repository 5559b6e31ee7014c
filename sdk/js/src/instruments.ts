/**
 * Metric instruments. An instrument names a metric; `bind(labels)` fixes its labels once (checked
 * then) and gives an instrument whose calls only append to its series: the cheap path for hot code.
 * Unbound calls take labels per call and find their series by them.
 */

import type { Slot } from "./buffers.js";
import type { Labels } from "./limits.js";
import type { MetricKind } from "./records.js";

/** What an instrument needs of its client. */
export interface Recorder {
  /** The series slot of `name`/`kind` with `labels` merged over the client's default labels;
   * throws a TypeError naming a bad label. */
  slot(name: string, kind: MetricKind, labels: Labels | undefined): Slot;
  /** Record `value` in `slot`; throws a RangeError when it is not a finite number within ±1e18. */
  record(slot: Slot, value: number): void;
}

/** A started timer: `stop()` records the milliseconds since it started, and returns them. */
export type StopTimer = () => number;

/** An instrument with its labels fixed: one series. */
abstract class Bound {
  constructor(
    protected readonly recorder: Recorder,
    protected readonly series: Slot,
  ) {}
}

/** An instrument of one metric; its labels are given per call or bound once. */
abstract class Instrument<B extends Bound> {
  constructor(
    protected readonly recorder: Recorder,
    readonly name: string,
    private readonly kind: MetricKind,
    private readonly makeBound: new (recorder: Recorder, series: Slot) => B,
  ) {}

  /** The instrument with `labels` fixed (checked now, not per call). */
  bind(labels: Labels): B {
    return new this.makeBound(this.recorder, this.series(labels));
  }

  protected series(labels: Labels | undefined): Slot {
    return this.recorder.slot(this.name, this.kind, labels);
  }

  protected put(value: number, labels: Labels | undefined): void {
    this.recorder.record(this.series(labels), value);
  }
}

function startTimer(recorder: Recorder, slot: Slot): StopTimer {
  const started = performance.now();
  let stopped: number | undefined;
  return () => {
    if (stopped === undefined) {
      stopped = performance.now() - started;
      recorder.record(slot, stopped);
    }
    return stopped;
  };
}

async function timed<T>(stop: StopTimer, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    stop();
  }
}

/** A distribution with fixed labels: each value is one observation (a latency in ms, a size). */
export class BoundDistribution extends Bound {
  observe(value: number): void {
    this.recorder.record(this.series, value);
  }

  /** Start timing; the returned function records the elapsed milliseconds. */
  startTimer(): StopTimer {
    return startTimer(this.recorder, this.series);
  }

  /** Run `fn` and record how long it took (until its promise settles), in milliseconds. */
  time<T>(fn: () => T | Promise<T>): Promise<T> {
    return timed(this.startTimer(), fn);
  }
}

/** A distribution: each value is one observation, summarised by mergeable percentiles. */
export class Distribution extends Instrument<BoundDistribution> {
  constructor(recorder: Recorder, name: string) {
    super(recorder, name, "distribution", BoundDistribution);
  }

  observe(value: number, labels?: Labels): void {
    this.put(value, labels);
  }

  startTimer(labels?: Labels): StopTimer {
    return startTimer(this.recorder, this.series(labels));
  }

  time<T>(fn: () => T | Promise<T>, labels?: Labels): Promise<T> {
    return timed(this.startTimer(labels), fn);
  }
}

/** A counter with fixed labels. */
export class BoundCounter extends Bound {
  /** Add an increment (default 1). */
  add(value = 1): void {
    this.recorder.record(this.series, value);
  }
}

/** A counter: each value is an increment; perfpulse reports sums and rates. */
export class Counter extends Instrument<BoundCounter> {
  constructor(recorder: Recorder, name: string) {
    super(recorder, name, "counter", BoundCounter);
  }

  add(value = 1, labels?: Labels): void {
    this.put(value, labels);
  }
}

/** A gauge with fixed labels. */
export class BoundGauge extends Bound {
  /** Record the current level. */
  set(value: number): void {
    this.recorder.record(this.series, value);
  }
}

/** A gauge: each value is a sampled level (a queue length, connections in use). */
export class Gauge extends Instrument<BoundGauge> {
  constructor(recorder: Recorder, name: string) {
    super(recorder, name, "gauge", BoundGauge);
  }

  set(value: number, labels?: Labels): void {
    this.put(value, labels);
  }
}
