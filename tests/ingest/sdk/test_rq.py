"""The RQ integration against a real Redis (RQ's queue) and a running perfpulse: every way a job's run
ends is recorded with its task type and queue, by a worker that runs jobs in its process and by one
that forks a work horse per job (recording in the parent, where the emitter's thread lives)."""

from __future__ import annotations

import uuid

import pytest
import redis
from rq import Queue

from ingest import Emitter
from ingest.sdk.rq import PerfpulseSimpleWorker, PerfpulseWorker, enqueue, task_type_of
from tests.e2e.conftest import Deployment
from tests.ingest.sdk import rqjobs
from tests.ingest.sdk.telemetry import counts_by

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_each_outcome_of_an_rq_job_reaches_perfpulse(deployment: Deployment, redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    run_id = uuid.uuid4().hex[:8]
    high, low = (Queue(f"{name}-{run_id}", connection=connection) for name in ("high", "low"))
    settings = deployment.settings
    with Emitter("py-rq", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix) as emitter:
        jobs = [
            enqueue(emitter, high, rqjobs.summarize, "a long text"),
            enqueue(emitter, high, rqjobs.refuse, "a prompt"),
            enqueue(emitter, high, rqjobs.dawdle, 5, task_type="embed", job_timeout=1),
            enqueue(emitter, low, rqjobs.summarize, "another text"),
        ]
        assert [task_type_of(j) for j in jobs] == ["summarize", "refuse", "embed", "summarize"]
        PerfpulseSimpleWorker([high], connection=connection, emitter=emitter).work(burst=True)
        PerfpulseWorker([low], connection=connection, emitter=emitter).work(burst=True)  # forks per job
        assert emitter.flush(30)

    by_outcome = counts_by(deployment, "ai.task.duration", "py-rq", "task_type,priority,outcome", expected=4)
    assert by_outcome == {
        f"summarize high-{run_id} completed": 1,
        f"refuse high-{run_id} failed": 1,
        f"embed high-{run_id} timed_out": 1,
        f"summarize low-{run_id} completed": 1,
    }
    created = counts_by(deployment, "ai.task.creation_time", "py-rq", "task_type,priority", expected=4)
    assert sum(created.values()) == 4
    waits = counts_by(deployment, "ai.task.queue_wait", "py-rq", "task_type,priority", expected=4)
    assert sum(waits.values()) == 4
