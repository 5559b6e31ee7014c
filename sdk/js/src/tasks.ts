/**
 * Task-queue metrics: what the spec's AI task targets are measured with (the same points as the
 * Python SDK's `emitter.task`, held together by schemas/vectors/tasks.json).
 *
 * Per task type and priority (labels `task_type`, `priority`):
 * - `ai.task.creation_time` (distribution, ms): creating and enqueueing the task;
 * - `ai.task.queue_wait` (distribution, ms): from enqueue to the start of its run;
 * - `ai.task.duration` (distribution, ms, also labelled `outcome`: completed, failed, timed_out,
 *   cancelled): the run's execution time; its counts per outcome give the completion rate;
 * - `ai.task.queue_length`, `ai.task.in_flight` (gauges): tasks of this process waiting and running,
 *   sampled at every change.
 *
 * `TaskBook` holds the counts and turns each step into its points; it reads no clock.
 */

import type { Labels } from "./limits.js";
import type { MetricKind } from "./records.js";

export type TaskOutcome = "completed" | "failed" | "timed_out" | "cancelled";
export const TASK_OUTCOMES: readonly TaskOutcome[] = ["completed", "failed", "timed_out", "cancelled"];

export const TASK_CREATION = "ai.task.creation_time";
export const TASK_QUEUE_WAIT = "ai.task.queue_wait";
export const TASK_DURATION = "ai.task.duration";
export const TASK_QUEUE_LENGTH = "ai.task.queue_length";
export const TASK_IN_FLIGHT = "ai.task.in_flight";
/** Enqueue times kept per type and priority; past it tasks are only counted. */
export const MAX_WAITING = 100_000;

/** One point a step records. */
export interface TaskPoint {
  name: string;
  kind: MetricKind;
  labels: Labels;
  value: number;
}

interface Queue {
  waiting: number[]; // enqueue times (epoch ms), oldest first, from index `head`
  head: number;
  queued: number; // enqueued here and not started, including those whose time was not kept
  running: number;
}

/**
 * The waiting and running tasks of this process per (type, priority), and the points of each step.
 * Queue length counts tasks enqueued through this book and not yet started: an in-process queue. A
 * task started without a counted enqueue (its queue lives elsewhere) leaves it alone; report a
 * broker's queue length with `pp.gauge("ai.task.queue_length").set(n, { task_type, priority })`.
 */
export class TaskBook {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly maxWaiting = MAX_WAITING) {}

  /** A task was enqueued at `nowMs` after `creationMs` of work (null: not measured); `inProcess`: it
   * waits in this process's queue. */
  created(taskType: string, priority: string, nowMs: number, creationMs: number | null, inProcess: boolean): TaskPoint[] {
    const labels = { task_type: taskType, priority };
    const points: TaskPoint[] = creationMs === null ? [] : [{ name: TASK_CREATION, kind: "distribution", labels, value: creationMs }];
    if (inProcess) {
      const queue = this.queue(taskType, priority);
      queue.queued++;
      if (queue.waiting.length - queue.head < this.maxWaiting) queue.waiting.push(nowMs);
      points.push({ name: TASK_QUEUE_LENGTH, kind: "gauge", labels, value: queue.queued });
    }
    return points;
  }

  /** A run began at `nowMs`; `enqueuedMs`: when its task was enqueued (null: the oldest enqueue of
   * its type and priority counted here, if any). */
  started(taskType: string, priority: string, nowMs: number, enqueuedMs: number | null): TaskPoint[] {
    const labels = { task_type: taskType, priority };
    const queue = this.queue(taskType, priority);
    let length: number | undefined;
    let since = enqueuedMs;
    if (queue.queued > 0) {
      length = --queue.queued;
      const oldest = queue.head < queue.waiting.length ? queue.waiting[queue.head++] : undefined;
      if (queue.head > 1024 && queue.head * 2 > queue.waiting.length) {
        queue.waiting = queue.waiting.slice(queue.head); // reclaim the consumed front now and then
        queue.head = 0;
      }
      since ??= oldest ?? null;
    }
    queue.running++;
    const points: TaskPoint[] = [];
    if (since !== null) points.push({ name: TASK_QUEUE_WAIT, kind: "distribution", labels, value: Math.max(0, nowMs - since) });
    if (length !== undefined) points.push({ name: TASK_QUEUE_LENGTH, kind: "gauge", labels, value: length });
    points.push({ name: TASK_IN_FLIGHT, kind: "gauge", labels, value: queue.running });
    return points;
  }

  /** A run that `started` ended after `durationMs` with `outcome`. */
  ended(taskType: string, priority: string, outcome: TaskOutcome, durationMs: number): TaskPoint[] {
    const labels = { task_type: taskType, priority };
    const queue = this.queue(taskType, priority);
    queue.running = Math.max(0, queue.running - 1);
    return [
      { name: TASK_DURATION, kind: "distribution", labels: { ...labels, outcome }, value: durationMs },
      { name: TASK_IN_FLIGHT, kind: "gauge", labels, value: queue.running },
    ];
  }

  private queue(taskType: string, priority: string): Queue {
    const key = JSON.stringify([taskType, priority]);
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = { waiting: [], head: 0, queued: 0, running: 0 };
      this.queues.set(key, queue);
    }
    return queue;
  }
}

/** The outcome of a run that threw `error`: a `TimeoutError` (e.g. of `AbortSignal.timeout`, or an
 * `AbortError` caused by one, as node's timers throw) is timed_out, another `AbortError`
 * cancelled, anything else failed. */
export function outcomeOf(error: unknown): TaskOutcome {
  const name = nameOf(error);
  if (name === "TimeoutError") return "timed_out";
  if (name === "AbortError") return nameOf((error as { cause?: unknown }).cause) === "TimeoutError" ? "timed_out" : "cancelled";
  return "failed";
}

function nameOf(error: unknown): unknown {
  return typeof error === "object" && error !== null && "name" in error ? (error as { name: unknown }).name : undefined;
}
