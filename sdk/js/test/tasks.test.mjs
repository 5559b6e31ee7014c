// Task-queue metrics: the shared vectors (schemas/vectors/tasks.json, checked by the Python SDK's
// tests too) and a real in-process queue whose task metrics are found in perfpulse.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";

import { TaskBook, outcomeOf } from "@perfpulse/sdk";

import { counts, eventually, getJson, httpClient } from "./perfpulse.mjs";

const CASES = JSON.parse(readFileSync(new URL("../../../schemas/vectors/tasks.json", import.meta.url), "utf8"));

function apply(book, step) {
  if (step.step === "created") return book.created(step.task_type, step.priority, step.now_ms, step.creation_ms, step.in_process);
  if (step.step === "started") return book.started(step.task_type, step.priority, step.now_ms, step.enqueued_ms);
  return book.ended(step.task_type, step.priority, step.outcome, step.duration_ms);
}

test(`tasks: ${CASES.length} vectors`, () => assert.ok(CASES.length > 0));
for (const { name, steps } of CASES) {
  test(`tasks: ${name}`, () => {
    const book = new TaskBook();
    steps.forEach((step, i) => assert.deepEqual(apply(book, step), step.expect, `step ${i} (${step.step})`));
  });
}

test("tasks: enqueue times past the bound are counted but not kept", () => {
  const book = new TaskBook(1);
  book.created("t", "p", 10, null, true);
  book.created("t", "p", 20, null, true);
  assert.deepEqual(book.started("t", "p", 30, null).map((p) => [p.name, p.value]), [
    ["ai.task.queue_wait", 20],
    ["ai.task.queue_length", 1],
    ["ai.task.in_flight", 1],
  ]);
  assert.deepEqual(book.started("t", "p", 30, null).map((p) => [p.name, p.value]), [
    ["ai.task.queue_length", 0],
    ["ai.task.in_flight", 2],
  ]);
});

test("tasks: outcomes of thrown errors", () => {
  assert.equal(outcomeOf(new Error("x")), "failed");
  assert.equal(outcomeOf(new DOMException("late", "TimeoutError")), "timed_out");
  assert.equal(outcomeOf(new DOMException("stop", "AbortError")), "cancelled");
  assert.equal(outcomeOf("a string"), "failed");
});

test("tasks: an in-process queue's runs, waits, creation times and levels reach perfpulse", async (t) => {
  const { deployment, service, startMs, pp } = await httpClient(t, "tasks");
  assert.throws(() => pp.task("x".repeat(10_000), () => 1), /cannot track task/);

  const queue = [];
  const jobs = [...Array(3).fill(["summarize", "high"]), ...Array(2).fill(["summarize", "low"]), ["embed", "high"]];
  for (const [type, priority] of jobs) await pp.enqueueTask(type, async () => queue.push([type, priority]), { priority });
  const plans = ["ok", "fail", "timeout", "ok", "cancel", "ok"];
  let traceId;
  for (const [type, priority] of queue) {
    const plan = plans.shift();
    const run = pp.task(
      type,
      async (r) => {
        traceId ??= r.span.traceId;
        if (plan === "fail") throw new Error("model refused");
        if (plan === "timeout") await sleep(50, undefined, { signal: AbortSignal.timeout(5) });
        if (plan === "cancel") r.setOutcome("cancelled");
        return plan;
      },
      { priority },
    );
    if (plan === "fail" || plan === "timeout") await assert.rejects(run);
    else assert.equal(await run, plan);
  }
  assert.equal(await pp.task("embed", () => "done", { priority: "high", enqueuedMs: Date.now() - 250 }), "done");
  assert.equal(await pp.close(), true);

  const byOutcome = await eventually("ai.task.duration by type, priority and outcome", async () => {
    const series = await counts(deployment.url, "ai.task.duration", service, startMs, "task_type,priority,outcome");
    return series.length === 6 ? series : undefined;
  });
  const found = Object.fromEntries(byOutcome.map((s) => [`${s.group.task_type} ${s.group.priority} ${s.group.outcome}`, s.count]));
  assert.deepEqual(found, {
    "summarize high completed": 1,
    "summarize high failed": 1,
    "summarize high timed_out": 1,
    "summarize low completed": 1,
    "summarize low cancelled": 1,
    "embed high completed": 2,
  });
  const waits = await counts(deployment.url, "ai.task.queue_wait", service, startMs, "task_type,priority");
  assert.deepEqual(Object.fromEntries(waits.map((s) => [`${s.group.task_type} ${s.group.priority}`, s.count])), {
    "summarize high": 3,
    "summarize low": 2,
    "embed high": 2,
  });
  const embedWait = waits.find((s) => s.group.task_type === "embed");
  assert.ok(embedWait.sum >= 250, `the carried enqueue time counts: ${embedWait.sum} ms`);
  const { body } = await getJson(deployment.url, "/api/v1/query", {
    metric: "ai.task.queue_length",
    service,
    start: String(startMs),
    end: String(Date.now() + 60_000),
    stats: "max",
    group_by: "task_type,priority",
  });
  const highest = Object.fromEntries(body.series.map((s) => [`${s.group.task_type} ${s.group.priority}`, Math.max(...s.points.map((p) => p.max))]));
  assert.deepEqual(highest, { "summarize high": 3, "summarize low": 2, "embed high": 1 });
  const trace = await eventually("a task run's span", async () => {
    const { status, body: t } = await getJson(deployment.url, `/api/v1/traces/${traceId}`);
    return status === 200 && t.spans.length === 1 ? t : undefined;
  });
  assert.equal(trace.spans[0].operation, "task summarize");
  assert.equal(trace.spans[0].kind, "consumer");
  assert.equal(trace.spans[0].tags["task.outcome"], "completed");
});
