// BullMQ: a real queue and worker on the shared Redis, the processor wrapped by perfpulseProcessor;
// the jobs' task metrics and spans are found in perfpulse.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Queue, QueueEvents, Worker } from "bullmq";
import IORedis from "ioredis";

import { perfpulseProcessor } from "@perfpulse/sdk/bullmq";

import { counts, eventually, httpClient } from "./perfpulse.mjs";

const REDIS = process.env.PERFPULSE_TEST_REDIS ?? "redis://127.0.0.1:26379/0";

test("BullMQ: each job is a task run with its queue wait, outcome and span", async (t) => {
  const { deployment, service, startMs, pp } = await httpClient(t, "bullmq");
  // BullMQ leaves connections it was given open: each one is closed here, after its user.
  const connections = [0, 1, 2].map(() => new IORedis(REDIS, { maxRetriesPerRequest: null }));
  const prefix = `ppjs-bull-${process.pid}-${Date.now()}`;
  const queue = new Queue("assistant", { connection: connections[0], prefix });
  const events = new QueueEvents("assistant", { connection: connections[1], prefix });
  let worker;
  t.after(async () => {
    await worker?.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await events.close();
    await queue.close();
    await Promise.all(connections.map((c) => c.quit()));
  });
  await events.waitUntilReady();

  const traceIds = [];
  const processor = perfpulseProcessor(pp, async (job) => {
    traceIds.push(pp.currentSpan()?.traceId);
    if (job.data.fail) throw new Error("model refused");
    return job.data.text.length;
  });
  const jobs = await queue.addBulk([
    { name: "summarize", data: { text: "abc" } },
    { name: "summarize", data: { text: "abcd" }, opts: { priority: 1 } },
    { name: "summarize", data: { text: "x", fail: true }, opts: { attempts: 1 } },
    { name: "embed", data: { text: "vector" } },
  ]);
  await new Promise((r) => setTimeout(r, 150)); // the jobs wait at least this long in the queue
  worker = new Worker("assistant", processor, { connection: connections[2], prefix, concurrency: 1 });
  const settled = jobs.map((job) => job.waitUntilFinished(events).then(() => "completed", () => "failed"));
  assert.deepEqual(await Promise.all(settled), ["completed", "completed", "failed", "completed"]);
  assert.equal(await pp.close(), true);
  assert.equal(traceIds.filter(Boolean).length, 4, "each job ran inside its span");

  const byOutcome = await eventually("ai.task.duration of the jobs", async () => {
    const series = await counts(deployment.url, "ai.task.duration", service, startMs, "task_type,priority,outcome");
    return series.length === 4 ? series : undefined;
  });
  const found = Object.fromEntries(byOutcome.map((s) => [`${s.group.task_type} ${s.group.priority} ${s.group.outcome}`, s.count]));
  assert.deepEqual(found, {
    "summarize normal completed": 1,
    "summarize 1 completed": 1,
    "summarize normal failed": 1,
    "embed normal completed": 1,
  });
  const waits = await counts(deployment.url, "ai.task.queue_wait", service, startMs, "task_type");
  for (const s of waits) assert.ok(s.sum / s.count >= 150, `${s.group.task_type} waited ${s.sum / s.count} ms on average`);
  assert.equal(waits.reduce((n, s) => n + s.count, 0), 4);
});
