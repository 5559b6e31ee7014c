/**
 * BullMQ: a processor wrapper that runs each job as `pp.task` (see tasks.ts): queue wait from the
 * job's creation (plus its delay) to the start, execution time with the outcome, in-flight gauge,
 * a CONSUMER span `task <job name>`. Task type: the job's name (or `taskType(job)`); priority: the
 * job's BullMQ priority as text (`normal` when it has none). BullMQ is not imported: any object
 * with a job's `name`, `timestamp` and `opts` works.
 *
 * ```ts
 * new Worker("assistant", perfpulseProcessor(pp, async (job) => summarize(job.data)), { connection });
 * ```
 *
 * The queue's own length lives in Redis: report it with
 * `pp.gauge("ai.task.queue_length").set(await queue.getWaitingCount(), { task_type, priority })`.
 */

import type { Perfpulse } from "./client.js";

/** The parts of a BullMQ job read here. */
export interface JobLike {
  name: string;
  /** When the job was created, epoch ms. */
  timestamp: number;
  opts: { priority?: number; delay?: number };
}

export interface ProcessorOptions<J> {
  /** The task type of a job; default its name. */
  taskType?: (job: J) => string;
}

export function perfpulseProcessor<J extends JobLike, A extends unknown[], R>(
  pp: Perfpulse,
  processor: (job: J, ...rest: A) => Promise<R>,
  options: ProcessorOptions<J> = {},
): (job: J, ...rest: A) => Promise<R> {
  const taskType = options.taskType ?? ((job: J) => job.name);
  return (job, ...rest) =>
    pp.task(taskType(job), () => processor(job, ...rest), {
      priority: job.opts.priority ? String(job.opts.priority) : "normal",
      enqueuedMs: job.timestamp + (job.opts.delay ?? 0),
    });
}
