/**
 * Running and creating tasks with their metrics and a span: what `Perfpulse.task` and
 * `Perfpulse.enqueueTask` do (see tasks.ts for the metrics).
 */

import type { Recorder } from "./instruments.js";
import { checkLabels } from "./limits.js";
import type { Labels } from "./limits.js";
import type { Span } from "./span.js";
import { TASK_OUTCOMES, outcomeOf } from "./tasks.js";
import type { TaskBook, TaskOutcome, TaskPoint } from "./tasks.js";
import type { SpanContext } from "./traceparent.js";

export interface TaskOptions {
  /** The task's priority, a label value; default `normal`. */
  priority?: string;
  /** When the task was enqueued, epoch ms (carried with the job); default the oldest enqueue of this
   * type and priority counted by `enqueueTask` in this process, if any. */
  enqueuedMs?: number;
  /** The span to continue (a context carried with the job); default the current span. */
  parent?: Span | SpanContext | null;
}

export interface EnqueueOptions {
  /** The task's priority, a label value; default `normal`. */
  priority?: string;
  /** The queue is this process's: count the task as waiting until a run of its type and priority
   * starts here; default true. */
  inProcess?: boolean;
}

/** What a task's creation hands its function: the enqueue time to carry with the job. */
export interface TaskTicket {
  readonly enqueuedMs: number;
}

/** One run of a task, handed to its function. */
export class TaskRun {
  private chosen: TaskOutcome | undefined;

  /** @internal Made by `Perfpulse.task`. */
  constructor(
    readonly taskType: string,
    readonly priority: string,
    readonly span: Span,
  ) {}

  /** Say how the run ended when it returns without throwing (e.g. `cancelled`). */
  setOutcome(outcome: TaskOutcome): void {
    if (!TASK_OUTCOMES.includes(outcome)) {
      throw new TypeError(`cannot set task outcome ${JSON.stringify(outcome)}: one of ${TASK_OUTCOMES.join(", ")}`);
    }
    this.chosen = outcome;
  }

  /** @internal */
  get outcome(): TaskOutcome | undefined {
    return this.chosen;
  }
}

/** What running a task needs of its client. */
export interface TaskHost extends Recorder {
  readonly labels: Labels;
  span<T>(operation: string, fn: (span: Span) => T, options: { kind: "consumer"; parent?: Span | SpanContext | null }): T;
}

function checkTask(host: TaskHost, taskType: string, priority: string): void {
  const problem = checkLabels({ ...host.labels, task_type: taskType, priority, outcome: "completed" });
  if (problem !== undefined) throw new TypeError(`cannot track task ${JSON.stringify(taskType.slice(0, 40))}: ${problem}`);
}

function recordPoints(host: TaskHost, points: TaskPoint[]): void {
  for (const p of points) host.record(host.slot(p.name, p.kind, p.labels), p.value);
}

/** Run `fn` as one run of a task (see `Perfpulse.task`); a bad type or priority throws at the call. */
export function runTask<T>(
  host: TaskHost,
  book: TaskBook,
  taskType: string,
  fn: (run: TaskRun) => T | Promise<T>,
  options: TaskOptions,
): Promise<T> {
  const priority = options.priority ?? "normal";
  checkTask(host, taskType, priority);
  recordPoints(host, book.started(taskType, priority, Date.now(), options.enqueuedMs ?? null));
  const started = performance.now();
  return host.span(
    `task ${taskType}`,
    async (span) => {
      span.setTags({ "task.type": taskType, "task.priority": priority });
      const run = new TaskRun(taskType, priority, span);
      let outcome: TaskOutcome = "failed";
      try {
        const result = await fn(run);
        outcome = run.outcome ?? "completed";
        return result;
      } catch (error) {
        outcome = outcomeOf(error);
        throw error;
      } finally {
        span.setTags({ "task.outcome": outcome });
        recordPoints(host, book.ended(taskType, priority, outcome, performance.now() - started));
      }
    },
    { kind: "consumer", parent: options.parent },
  );
}

/** Run `fn` as the creation of a task (see `Perfpulse.enqueueTask`); a bad type or priority
 * throws at the call. */
export function createTask<T>(
  host: TaskHost,
  book: TaskBook,
  taskType: string,
  fn: (ticket: TaskTicket) => T | Promise<T>,
  options: EnqueueOptions,
): Promise<T> {
  const priority = options.priority ?? "normal";
  checkTask(host, taskType, priority);
  const ticket = { enqueuedMs: Date.now() };
  const started = performance.now();
  return (async () => {
    const result = await fn(ticket);
    const creationMs = performance.now() - started;
    recordPoints(host, book.created(taskType, priority, ticket.enqueuedMs, creationMs, options.inProcess ?? true));
    return result;
  })();
}
