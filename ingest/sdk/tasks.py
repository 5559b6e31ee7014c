"""Task-queue metrics: what the spec's AI task targets are measured with.

A task is created (enqueued), waits in its queue, then runs once to an outcome. Per task type and
priority (labels ``task_type`` and ``priority``) the SDK records:

* ``ai.task.creation_time`` (distribution, ms): how long creating and enqueueing the task took;
* ``ai.task.queue_wait`` (distribution, ms): from enqueue to the start of its run;
* ``ai.task.duration`` (distribution, ms, also labelled ``outcome``): the run's execution time;
  its counts per outcome give the completion rate;
* ``ai.task.queue_length`` and ``ai.task.in_flight`` (gauges): tasks of this process waiting and
  running, sampled at every change.

:class:`TaskBook` holds the counts and turns each step into its points; it reads no clock (times
are given), so the shared vectors (``schemas/vectors/tasks.json``) hold both SDKs to the same points.
:class:`TaskRun` and :class:`TaskCreation` are the ``with`` blocks :meth:`Emitter.task
<ingest.sdk.emitter.Emitter.task>` and :meth:`Emitter.enqueue_task
<ingest.sdk.emitter.Emitter.enqueue_task>` hand out.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from ingest.sdk.tracing import ActiveSpan, SpanContext
from schemas import MetricKind, SpanKind

if TYPE_CHECKING:
    from ingest.sdk.emitter import Emitter

__all__ = [
    "TASK_CREATION",
    "TASK_DURATION",
    "TASK_IN_FLIGHT",
    "TASK_QUEUE_LENGTH",
    "TASK_QUEUE_WAIT",
    "TaskBook",
    "TaskCreation",
    "TaskOutcome",
    "TaskPoint",
    "TaskRun",
]

TASK_CREATION: Final = "ai.task.creation_time"
TASK_QUEUE_WAIT: Final = "ai.task.queue_wait"
TASK_DURATION: Final = "ai.task.duration"
TASK_QUEUE_LENGTH: Final = "ai.task.queue_length"
TASK_IN_FLIGHT: Final = "ai.task.in_flight"
MAX_WAITING: Final = 100_000  # enqueue times kept per type and priority (8 bytes each); past it only counted

F = TypeVar("F", bound=Callable[..., Any])


class TaskOutcome(StrEnum):
    """How a task's run ended."""

    COMPLETED = "completed"
    FAILED = "failed"  # an exception
    TIMED_OUT = "timed_out"  # a TimeoutError (asyncio's too)
    CANCELLED = "cancelled"  # asyncio cancellation, an exit, or said so by the task


@dataclass(frozen=True, slots=True)
class TaskPoint:
    """One point a step records."""

    name: str
    kind: MetricKind
    labels: dict[str, str]
    value: float


@dataclass(slots=True)
class _Queue:
    waiting: deque[float] = field(default_factory=deque)  # enqueue times (epoch ms), oldest first
    queued: int = 0  # enqueued here and not started, including those whose time was not kept
    running: int = 0


class TaskBook:
    """The waiting and running tasks of this process per (type, priority), and the points of each
    step. Thread-safe; reads no clock.

    Queue length counts tasks enqueued through this book and not yet started: it describes an
    in-process queue. A task started without a counted enqueue (its queue lives in another process)
    leaves it alone; report a broker's queue length with ``emitter.gauge("ai.task.queue_length",
    n, task_type=..., priority=...)``.
    """

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self._max_waiting = max_waiting
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._lock = threading.Lock()

    def created(
        self, task_type: str, priority: str, now_ms: float, creation_ms: float | None, *, in_process: bool
    ) -> list[TaskPoint]:
        """A task was enqueued at ``now_ms`` after ``creation_ms`` of work; ``in_process``: it waits
        in this process's queue (counted in its length, its time kept for its queue wait)."""
        labels = {"task_type": task_type, "priority": priority}
        points = [] if creation_ms is None else [TaskPoint(TASK_CREATION, MetricKind.DISTRIBUTION, labels, creation_ms)]
        if in_process:
            with self._lock:
                queue = self._queue(task_type, priority)
                queue.queued += 1
                if len(queue.waiting) < self._max_waiting:
                    queue.waiting.append(now_ms)
                length = queue.queued
            points.append(TaskPoint(TASK_QUEUE_LENGTH, MetricKind.GAUGE, labels, length))
        return points

    def started(self, task_type: str, priority: str, now_ms: float, enqueued_ms: float | None) -> list[TaskPoint]:
        """A task's run began at ``now_ms``; ``enqueued_ms``: when it was enqueued (default: the
        oldest enqueue of its type and priority counted here, if any)."""
        labels = {"task_type": task_type, "priority": priority}
        points: list[TaskPoint] = []
        with self._lock:
            queue = self._queue(task_type, priority)
            length = None
            if queue.queued > 0:
                queue.queued -= 1
                length = queue.queued
                oldest = queue.waiting.popleft() if queue.waiting else None
                enqueued_ms = oldest if enqueued_ms is None else enqueued_ms
            queue.running += 1
            running = queue.running
        if enqueued_ms is not None:
            points.append(TaskPoint(TASK_QUEUE_WAIT, MetricKind.DISTRIBUTION, labels, max(0.0, now_ms - enqueued_ms)))
        if length is not None:
            points.append(TaskPoint(TASK_QUEUE_LENGTH, MetricKind.GAUGE, labels, length))
        points.append(TaskPoint(TASK_IN_FLIGHT, MetricKind.GAUGE, labels, running))
        return points

    def ended(self, task_type: str, priority: str, outcome: TaskOutcome, duration_ms: float) -> list[TaskPoint]:
        """A run that :meth:`started` ended after ``duration_ms`` with ``outcome``."""
        labels = {"task_type": task_type, "priority": priority}
        with self._lock:
            queue = self._queue(task_type, priority)
            queue.running = max(0, queue.running - 1)
            running = queue.running
        return [
            TaskPoint(TASK_DURATION, MetricKind.DISTRIBUTION, {**labels, "outcome": outcome.value}, duration_ms),
            TaskPoint(TASK_IN_FLIGHT, MetricKind.GAUGE, labels, running),
        ]

    def _queue(self, task_type: str, priority: str) -> _Queue:
        queue = self._queues.get((task_type, priority))
        if queue is None:
            queue = self._queues[(task_type, priority)] = _Queue()
        return queue


def outcome_of(exc: BaseException | None) -> TaskOutcome:
    """The outcome of a run that raised ``exc`` (None: it returned)."""
    if exc is None:
        return TaskOutcome.COMPLETED
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError since 3.11
        return TaskOutcome.TIMED_OUT
    if isinstance(exc, Exception):
        return TaskOutcome.FAILED
    return TaskOutcome.CANCELLED  # asyncio.CancelledError, KeyboardInterrupt, SystemExit


def _now_ms() -> float:
    return time.time_ns() / 1_000_000


def record(emitter: Emitter, points: list[TaskPoint]) -> None:
    """Hand ``points`` to ``emitter`` (labels were validated when the run or creation was made)."""
    for point in points:
        emitter._append(emitter._lookup(point.name, point.kind, point.labels), point.value, None)


class TaskRun:
    """One run of a task: a ``with``/``async with`` block, or a decorator (each call one run).

    Entering records the queue wait (from ``enqueued_ms``, epoch ms, or the oldest enqueue of this
    type and priority counted in this process), the queue length and in-flight gauges, and starts a
    CONSUMER span ``task <type>`` (current inside). Leaving records the execution time with its
    outcome: ``completed``, ``failed`` (an exception), ``timed_out`` (``TimeoutError``),
    ``cancelled`` (cancellation), or what the block set in :attr:`outcome`. Exceptions pass on.
    Made by :meth:`Emitter.task <ingest.sdk.emitter.Emitter.task>`.
    """

    __slots__ = ("_book", "_emitter", "_parent", "_span", "_start", "enqueued_ms", "outcome", "priority", "task_type")

    def __init__(
        self,
        emitter: Emitter,
        book: TaskBook,
        task_type: str,
        priority: str,
        enqueued_ms: float | None,
        parent: SpanContext | ActiveSpan | None,
    ) -> None:
        self._emitter = emitter
        self._book = book
        self.task_type = task_type
        self.priority = priority
        self.enqueued_ms = enqueued_ms
        self._parent = parent
        self.outcome: TaskOutcome | None = None  # set inside the block to override the derived one
        self._span: ActiveSpan | None = None
        self._start = 0.0

    def __enter__(self) -> TaskRun:
        record(self._emitter, self._book.started(self.task_type, self.priority, _now_ms(), self.enqueued_ms))
        self._span = self._emitter.span(f"task {self.task_type}", parent=self._parent, kind=SpanKind.CONSUMER)
        self._span.set_tags(**{"task.type": self.task_type, "task.priority": self.priority})
        self._span.__enter__()
        self._start = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed_ms = (time.perf_counter() - self._start) * 1000.0
        outcome = outcome_of(exc) if exc is not None or self.outcome is None else TaskOutcome(self.outcome)
        if self._span is not None:
            self._span.set_tag("task.outcome", outcome.value)
            self._span.__exit__(exc_type, exc, tb)
            self._span = None
        record(self._emitter, self._book.ended(self.task_type, self.priority, outcome, elapsed_ms))

    async def __aenter__(self) -> TaskRun:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def _fresh(self) -> TaskRun:
        return TaskRun(self._emitter, self._book, self.task_type, self.priority, self.enqueued_ms, self._parent)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(F, run)


class TaskCreation:
    """Creating (enqueueing) one task: a ``with``/``async with`` block whose time is the creation
    time. Leaving it normally records ``ai.task.creation_time`` and, for an in-process queue, counts
    the task as waiting; :attr:`enqueued_ms` (epoch ms, the block's start: known inside it, to
    put in the job) is the time to hand to the task's run in
    another process (``emitter.task(..., enqueued_ms=...)``). A block that raises records nothing.
    Made by :meth:`Emitter.enqueue_task <ingest.sdk.emitter.Emitter.enqueue_task>`.
    """

    __slots__ = ("_book", "_emitter", "_in_process", "_start", "enqueued_ms", "priority", "task_type")

    def __init__(self, emitter: Emitter, book: TaskBook, task_type: str, priority: str, *, in_process: bool) -> None:
        self._emitter = emitter
        self._book = book
        self.task_type = task_type
        self.priority = priority
        self._in_process = in_process
        self._start = 0.0
        self.enqueued_ms = 0.0

    def __enter__(self) -> TaskCreation:
        self._start = time.perf_counter()
        self.enqueued_ms = _now_ms()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            return
        creation_ms = (time.perf_counter() - self._start) * 1000.0
        points = self._book.created(
            self.task_type, self.priority, self.enqueued_ms, creation_ms, in_process=self._in_process
        )
        record(self._emitter, points)

    async def __aenter__(self) -> TaskCreation:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)
