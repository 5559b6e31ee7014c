"""Task-queue metrics: the shared vectors (schemas/vectors/tasks.json, which the TypeScript SDK's
tests check too), the outcome of each way a run ends, and a real emitter's task metrics read back
through a running perfpulse's API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest

from ingest import Emitter
from ingest.sdk.tasks import TaskBook, TaskOutcome, TaskPoint
from schemas.vectors import VECTORS_DIR
from tests.e2e.conftest import Deployment
from tests.ingest.sdk.telemetry import counts_by

CASES: list[dict[str, Any]] = json.loads((VECTORS_DIR / "tasks.json").read_text(encoding="utf-8"))


def apply(book: TaskBook, step: dict[str, Any]) -> list[TaskPoint]:
    kind, task_type, priority = step["step"], step["task_type"], step["priority"]
    if kind == "created":
        return book.created(task_type, priority, step["now_ms"], step["creation_ms"], in_process=step["in_process"])
    if kind == "started":
        return book.started(task_type, priority, step["now_ms"], step["enqueued_ms"])
    return book.ended(task_type, priority, TaskOutcome(step["outcome"]), step["duration_ms"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_each_step_records_the_points_of_the_shared_vectors(case: dict[str, Any]) -> None:
    book = TaskBook()
    for i, step in enumerate(case["steps"]):
        got = [{"name": p.name, "kind": p.kind.value, "labels": p.labels, "value": p.value} for p in apply(book, step)]
        assert got == step["expect"], f"step {i} ({step['step']})"


def test_enqueue_times_past_the_bound_are_counted_but_not_kept() -> None:
    book = TaskBook(max_waiting=1)
    for now in (10.0, 20.0):
        book.created("t", "p", now, None, in_process=True)
    first, second = book.started("t", "p", 30.0, None), book.started("t", "p", 30.0, None)
    assert [(p.name, p.value) for p in first] == [
        ("ai.task.queue_wait", 20.0), ("ai.task.queue_length", 1), ("ai.task.in_flight", 1)
    ]  # fmt: skip
    assert [(p.name, p.value) for p in second] == [("ai.task.queue_length", 0), ("ai.task.in_flight", 2)]


def test_a_task_type_or_priority_that_is_no_valid_label_value_is_refused_at_the_call(kafka_bootstrap: str) -> None:
    with Emitter("py-tasks-bad", kafka_bootstrap, topic_prefix="unused-tasks-test.") as emitter:
        with pytest.raises(ValueError, match=r"cannot track task 'x{40}': label 'task_type' value is longer"):
            emitter.task("x" * 10_000)
        with pytest.raises(ValueError, match=r"label 'priority' value is longer"):
            emitter.enqueue_task("summarize", priority="p" * 10_000)


async def run_tasks(emitter: Emitter) -> None:
    """An in-process priority queue of AI tasks: each way a run can end, once or more."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    jobs = [("summarize", "high")] * 3 + [("summarize", "low")] * 2 + [("embed", "high")]
    for job in jobs:
        async with emitter.enqueue_task(job[0], priority=job[1]):
            await queue.put(job)

    async def slow() -> None:
        await asyncio.sleep(5)

    outcomes = iter(["ok", "fail", "timeout", "ok", "cancel", "ok"])
    while not queue.empty():
        task_type, priority = await queue.get()
        how = next(outcomes)
        raised = {"fail": ValueError, "timeout": TimeoutError}.get(how)
        with pytest.raises(raised) if raised else contextlib.nullcontext():
            async with emitter.task(task_type, priority=priority) as run:
                if how == "fail":
                    raise ValueError("model refused")
                if how == "timeout":
                    await asyncio.wait_for(slow(), 0.01)
                if how == "cancel":
                    run.outcome = TaskOutcome.CANCELLED

    @emitter.task("embed", priority="high", enqueued_ms=0)  # a job from another process, enqueued long ago
    async def embed() -> str:
        return "done"

    assert await embed() == "done"


@pytest.mark.integration
@pytest.mark.e2e
def test_task_metrics_of_a_real_queue_reach_perfpulse(deployment: Deployment) -> None:
    settings = deployment.settings
    with Emitter("py-tasks", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix) as emitter:
        asyncio.run(run_tasks(emitter))
        assert emitter.flush(30)

    by_outcome = counts_by(deployment, "ai.task.duration", "py-tasks", "task_type,priority,outcome", expected=6)
    assert by_outcome == {
        "summarize high completed": 1,
        "summarize high failed": 1,
        "summarize high timed_out": 1,
        "summarize low completed": 1,
        "summarize low cancelled": 1,
        "embed high completed": 2,
    }
    assert counts_by(deployment, "ai.task.creation_time", "py-tasks", "task_type,priority", expected=3) == {
        "summarize high": 3, "summarize low": 2, "embed high": 1
    }  # fmt: skip
    waits = counts_by(deployment, "ai.task.queue_wait", "py-tasks", "task_type,priority", expected=3)
    assert waits == {"summarize high": 3, "summarize low": 2, "embed high": 2}
    # Gauges: one sample per change; the queue filled to 3 summarize/high tasks, never more than one ran.
    now_ms = int(time.time() * 1000)
    answer = deployment.get(
        "/api/v1/query", metric="ai.task.queue_length", service="py-tasks", start=now_ms - 600_000,
        end=now_ms + 600_000, stats="max", group_by="task_type,priority",
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    levels = answer.json()["series"]
    highest = {
        f"{s['group']['task_type']} {s['group']['priority']}": max(p["max"] for p in s["points"]) for s in levels
    }
    assert highest == {"summarize high": 3, "summarize low": 2, "embed high": 1}
