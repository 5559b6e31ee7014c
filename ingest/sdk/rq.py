"""RQ (Redis Queue, ``pip install 'perfpulse[rq]'``) with perfpulse's task metrics: the task-queue
figures of :mod:`ingest.sdk.tasks` for every job, with no change to the jobs themselves.

* :func:`enqueue` wraps ``queue.enqueue``: the job's creation time (``ai.task.creation_time``), its
  task type in ``job.meta`` and the caller's trace context (``traceparent``), so the run joins it.
* :class:`PerfpulseWorker` (forks a work horse per job, as RQ's ``Worker``) and
  :class:`PerfpulseSimpleWorker` (runs jobs in the worker's process) record each run from the
  worker's own process: queue wait (``enqueued_at`` to the start), execution time with its outcome
  (``completed``, ``failed``, ``timed_out`` past the job's timeout, ``cancelled`` when stopped or
  cancelled), in-flight and a ``task <type>`` span. Timing in the parent is what makes the forking
  worker work: the emitter's sending thread does not survive a fork, so nothing is recorded in the horse.

Task type: ``enqueue``'s ``task_type``, else the job function's name; priority: the queue's name.
The queue's length lives in Redis: report it as a gauge where you enqueue or on a timer
(``emitter.gauge("ai.task.queue_length", queue.count, task_type=..., priority=queue.name)``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus

from ingest.sdk.emitter import Emitter
from ingest.sdk.tasks import TaskOutcome
from ingest.sdk.traceparent import extract, inject

__all__ = ["PerfpulseSimpleWorker", "PerfpulseWorker", "enqueue", "task_type_of"]

_TYPE_META = "perfpulse_task_type"
_TIMEOUT_ERROR = "JobTimeoutException"  # RQ's exception past a job's timeout, as its result records it


def enqueue(emitter: Emitter, queue: Queue, f: Any, *args: Any, task_type: str | None = None, **kwargs: Any) -> Job:
    """``queue.enqueue(f, *args, **kwargs)``, recording the creation of a task of ``task_type``
    (default ``f``'s name) at the queue's name as priority."""
    kind = task_type or _name_of(f)
    meta = inject({**kwargs.pop("meta", {}), _TYPE_META: kind})
    with emitter.enqueue_task(kind, priority=queue.name, in_process=False):
        job: Job = queue.enqueue(f, *args, meta=meta, **kwargs)
    return job


def task_type_of(job: Job) -> str:
    """The task type recorded for ``job``: the one :func:`enqueue` stored, else its function's name."""
    stored = job.meta.get(_TYPE_META)
    return stored if isinstance(stored, str) else _name_of(job.func_name or "job")


class _Recording:
    """What both workers add: each job's run recorded around RQ's own execution of it."""

    emitter: Emitter

    def execute_job(self, job: Job, queue: Queue) -> None:
        enqueued_ms = _epoch_ms(job.enqueued_at) if job.enqueued_at else None
        run = self.emitter.task(
            task_type_of(job), priority=queue.name, enqueued_ms=enqueued_ms, parent=extract(job.meta)
        )
        with run:
            super().execute_job(job, queue)  # type: ignore[misc]  # RQ's worker, after this in the MRO
            run.outcome = _outcome(job)


class PerfpulseWorker(_Recording, Worker):
    """RQ's forking ``Worker``, recording each job's run into ``emitter``."""

    def __init__(self, *args: Any, emitter: Emitter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emitter = emitter


class PerfpulseSimpleWorker(_Recording, SimpleWorker):
    """RQ's ``SimpleWorker`` (jobs in the worker's process), recording each job's run into ``emitter``."""

    def __init__(self, *args: Any, emitter: Emitter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emitter = emitter


def _outcome(job: Job) -> TaskOutcome:
    status = job.get_status(refresh=True)
    if status == JobStatus.FINISHED:
        return TaskOutcome.COMPLETED
    if status in (JobStatus.STOPPED, JobStatus.CANCELED):
        return TaskOutcome.CANCELLED
    result = job.latest_result()
    if result is not None and _TIMEOUT_ERROR in (result.exc_string or ""):
        return TaskOutcome.TIMED_OUT
    return TaskOutcome.FAILED


def _name_of(f: Any) -> str:
    name = f if isinstance(f, str) else getattr(f, "__name__", type(f).__name__)
    return str(name).rsplit(".", 1)[-1]


def _epoch_ms(at: datetime) -> float:
    """RQ's times are UTC, naive or aware by version."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000.0
