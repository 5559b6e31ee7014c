"""The emitter SDK: what a Python service embeds to send its metrics, spans and logs to perfpulse.

Recording a point validates it at the call and appends it to a bounded
:class:`~ingest.sdk.buffer.PointBuffer`; nothing else happens on the caller's thread. A bound
instrument (:meth:`Emitter.bind_distribution`, :meth:`Emitter.bind_counter`,
:meth:`Emitter.bind_gauge`, see :mod:`ingest.sdk.instruments`) has its name and labels checked once,
so that each recording checks only the value; the unbound calls (:meth:`Emitter.observe`, ...) find
a cached bound instrument by name and labels and record through it. A
:class:`~ingest.sdk.sender.Sender` thread drains the buffer into ``MetricBatch`` records of at most
``batch_size`` points when that many are waiting or every ``linger_ms``, and sends them. The
caller's code may be sync or async; the emitter never touches the caller's event loop.

The buffer holds at most ``max_buffer`` points and never makes the caller wait for Kafka: when
full it drops the oldest built record, or else the new point (see :mod:`ingest.sdk.buffer`). Drops
are logged as a rate-limited warning on ``perfpulse.ingest.sdk.emitter``.

Spans (:meth:`Emitter.span`, see :mod:`ingest.sdk.tracing`) and log records (:meth:`Emitter.log`, and
:class:`~ingest.sdk.loghandler.LogHandler` for the ``logging`` module) go the same way through bounded
lists of their own (:mod:`ingest.sdk.recordbuffer`), drained by the same thread: redacted there (the
caller's thread only appends), packed into ``spans`` records of up to 500 spans and ``logs`` records
of up to 500 log records.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Mapping
from time import time_ns
from types import TracebackType
from typing import Any, Final, TypeVar

import numpy.typing as npt

from ingest.producer import RecordProducer
from ingest.sdk.buffer import Pending, PointBuffer
from ingest.sdk.instruments import BoundCounter, BoundDistribution, BoundGauge
from ingest.sdk.recordbuffer import Batch, RecordBuffer
from ingest.sdk.sender import Lane, Sender
from ingest.sdk.tasks import TaskBook, TaskCreation, TaskRun
from ingest.sdk.timer import Timer
from ingest.sdk.tracing import ActiveSpan, SpanContext, current_context, fit_attributes
from schemas import Limits, LogRecord, MetricKind, Redactor, Span, SpanKind, Topics
from schemas.checks import check_labels, check_metric_name, check_service, check_timestamp
from schemas.kafka_security import PLAINTEXT, KafkaSecurity
from schemas.log_envelope import MAX_LOGS_PER_RECORD, pack_logs, parse_level, redact_log
from schemas.span_envelope import MAX_SPANS_PER_RECORD, pack_spans, redact_span

__all__ = ["BoundCounter", "BoundDistribution", "BoundGauge", "Emitter", "Timer"]

log = logging.getLogger("perfpulse.ingest.sdk.emitter")

_DIST: Final = MetricKind.DISTRIBUTION
_COUNTER: Final = MetricKind.COUNTER
_GAUGE: Final = MetricKind.GAUGE
_DROP_LOG_EVERY_S: Final = 10.0
_MAX_CACHED: Final = 400_000  # unbound calls' cached instruments per kind; past it the cache starts over

B = TypeVar("B", BoundDistribution, BoundCounter, BoundGauge)
CallKey = tuple[str, tuple[tuple[str, str], ...]]  # name, labels as the call passed them


class Emitter:
    """Buffers the points of one service and sends them to Kafka from a background thread.

    Recording methods validate at the call and raise ``ValueError`` naming the offending name,
    label or value; they never block on Kafka. Label keyword arguments are the point's labels
    (merged over the default ``labels``); ``ts_ms`` is reserved for the timestamp (epoch ms,
    default: now) and must lie within the ``limits`` skew window. Thread-safe. Create it in the
    process that records (after a fork, not before: the background thread does not survive one),
    and :meth:`close` it when done (an atexit hook does so at interpreter exit).
    """

    def __init__(
        self,
        service: str,
        bootstrap: str = "127.0.0.1:9092",
        *,
        topic_prefix: str = "perfpulse.",
        labels: Mapping[str, str] | None = None,
        batch_size: int = 1000,
        linger_ms: float = 200,
        max_buffer: int = 200_000,
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
        request_timeout_s: float = 10.0,
        exit_timeout_s: float = 5.0,
        max_span_buffer: int = 20_000,
        max_log_buffer: int = 20_000,
        redactor: Redactor = Redactor(),  # noqa: B008 - frozen dataclass, safe as a default
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        """``batch_size``: points per Kafka record; ``linger_ms``: longest wait before a partial
        record is sent; ``max_buffer``: points held while Kafka is slow or down;
        ``request_timeout_s``: per attempt to reach Kafka; ``exit_timeout_s``: how long the atexit
        flush may take; ``max_span_buffer``/``max_log_buffer``: spans and log records held while
        Kafka is slow or down; ``redactor``: masks secrets in span tags, span logs and log records
        before they leave the process; ``security``: how to reach Kafka (SASL, TLS; see
        :class:`~schemas.kafka_security.KafkaSecurity`). Starts the background thread."""
        if (problem := check_service(service, limits)) is not None:
            raise ValueError(f"cannot create emitter: {problem}")
        default_labels = dict(labels or {})
        if (problem := check_labels(default_labels, limits)) is not None:
            raise ValueError(f"cannot create emitter: default {problem}")
        if not 1 <= batch_size <= limits.max_points_per_batch:
            raise ValueError(f"batch_size must be in 1..{limits.max_points_per_batch}, got {batch_size}")
        if min(max_buffer, max_span_buffer, max_log_buffer) < 1 or linger_ms <= 0:
            raise ValueError(
                f"max_buffer, max_span_buffer, max_log_buffer and linger_ms must be positive, got "
                f"{max_buffer}, {max_span_buffer}, {max_log_buffer} and {linger_ms}"
            )
        self.service = service
        self.bootstrap = bootstrap
        self.topics = Topics(topic_prefix)
        self.labels = default_labels
        self.batch_size = batch_size
        self.linger_ms = linger_ms
        self.max_buffer = max_buffer
        self.limits = limits
        self.redactor = redactor
        self._exit_timeout_s = exit_timeout_s

        self._buffer = PointBuffer(service, batch_size, max_buffer, on_fill=self._wake_sender, on_drop=self._log_drops)
        self._spans: RecordBuffer[Span] = RecordBuffer(
            max_span_buffer,
            fill_at=MAX_SPANS_PER_RECORD,
            build=self._build_spans,
            on_fill=self._wake_sender,
            on_drop=self._log_drops,
        )
        self._logs: RecordBuffer[LogRecord] = RecordBuffer(
            max_log_buffer,
            fill_at=MAX_LOGS_PER_RECORD,
            build=self._build_logs,
            on_fill=self._wake_sender,
            on_drop=self._log_drops,
        )
        self._lanes: list[Lane[Any]] = [
            Lane("points", self._buffer, _send_points),
            Lane("spans", self._spans, _send_spans),
            Lane("log records", self._logs, _send_logs),
        ]
        self._sender = Sender(
            service, self._lanes, bootstrap, self.topics,
            linger_ms=linger_ms, request_timeout_s=request_timeout_s, security=security,
        )  # fmt: skip
        # The unbound calls' instruments, read without a lock (a dict lookup is atomic); bounded.
        self._distributions: dict[CallKey, BoundDistribution] = {}
        self._counters: dict[CallKey, BoundCounter] = {}
        self._gauges: dict[CallKey, BoundGauge] = {}
        self._tasks = TaskBook()
        self._close_lock = threading.Lock()
        self._closing = False  # close() has begun
        self._close_result: bool | None = None
        self._last_drop_log = -math.inf
        self._sender.start()
        atexit.register(self._at_exit)

    # ------------------------------------------------------------------ recording (caller's thread)

    def bind_distribution(self, name: str, /, **labels: str) -> BoundDistribution:
        """Distribution ``name`` with ``labels`` (merged over the default labels) fixed: its
        ``observe(value)`` is the cheap call for hot paths. Raises ``ValueError`` naming a bad name or
        label; recording then checks only values and timestamps."""
        return self._bind(BoundDistribution, name, _DIST, labels)

    def bind_counter(self, name: str, /, **labels: str) -> BoundCounter:
        """Counter ``name`` with ``labels`` fixed: ``add(value=1)``. Raises as :meth:`bind_distribution`."""
        return self._bind(BoundCounter, name, _COUNTER, labels)

    def bind_gauge(self, name: str, /, **labels: str) -> BoundGauge:
        """Gauge ``name`` with ``labels`` fixed: ``set(value)``. Raises as :meth:`bind_distribution`."""
        return self._bind(BoundGauge, name, _GAUGE, labels)

    def observe(self, name: str, value: float, /, *, ts_ms: int | None = None, **labels: str) -> None:
        """Record one observation of a distribution (a latency in ms, a size)."""
        try:
            bound = self._distributions[(name, tuple(labels.items()))]
        except (KeyError, TypeError):  # first call with these labels, or an unhashable label value
            bound = self._cached(self._distributions, BoundDistribution, name, _DIST, labels)
        bound.observe(value, ts_ms)

    def count(self, name: str, value: float = 1.0, /, *, ts_ms: int | None = None, **labels: str) -> None:
        """Add a non-negative increment to a counter (rates are sums per second)."""
        try:
            bound = self._counters[(name, tuple(labels.items()))]
        except (KeyError, TypeError):  # first call with these labels, or an unhashable label value
            bound = self._cached(self._counters, BoundCounter, name, _COUNTER, labels)
        bound.add(value, ts_ms)

    def gauge(self, name: str, value: float, /, *, ts_ms: int | None = None, **labels: str) -> None:
        """Record a sampled level (queue length, memory in bytes, utilisation 0..1)."""
        try:
            bound = self._gauges[(name, tuple(labels.items()))]
        except (KeyError, TypeError):  # first call with these labels, or an unhashable label value
            bound = self._cached(self._gauges, BoundGauge, name, _GAUGE, labels)
        bound.set(value, ts_ms)

    def observe_many(
        self,
        name: str,
        values: npt.ArrayLike,
        /,
        *,
        ts_ms: int | npt.ArrayLike | None = None,
        **labels: str,
    ) -> int:
        """Record many observations of one distribution series at once; return how many were kept.

        ``values``: a 1-D sequence or array of numbers within ``±limits.max_abs_value``. ``ts_ms``: one
        timestamp for all (default now) or one per value. Points that do not fit in the buffer are
        dropped and counted.
        """
        return self._cached(self._distributions, BoundDistribution, name, _DIST, labels).observe_many(
            values, ts_ms=ts_ms
        )

    def timer(self, name: str, /, **labels: str) -> Timer:
        """A :class:`Timer` recording elapsed milliseconds into distribution ``name``."""
        return self._cached(self._distributions, BoundDistribution, name, _DIST, labels).timer()

    # ------------------------------------------------------------------ task queues (caller's thread)

    def task(
        self,
        task_type: str,
        /,
        priority: str = "normal",
        *,
        enqueued_ms: float | None = None,
        parent: SpanContext | ActiveSpan | None = None,
    ) -> TaskRun:
        """One run of a task of ``task_type`` at ``priority``, as a ``with``/``async with`` block or a
        decorator (see :class:`~ingest.sdk.tasks.TaskRun`): queue wait from ``enqueued_ms`` (epoch
        ms; default the oldest enqueue of this type and priority counted by :meth:`enqueue_task`
        here), execution time with its outcome, queue length and in-flight gauges, a span
        (``parent``: a context carried with the job). Raises ``ValueError`` naming a type or
        priority that is not a valid label value."""
        self._check_task(task_type, priority)
        return TaskRun(self, self._tasks, task_type, priority, enqueued_ms, parent)

    def enqueue_task(self, task_type: str, /, priority: str = "normal", *, in_process: bool = True) -> TaskCreation:
        """Creating one task of ``task_type`` at ``priority``, as a ``with``/``async with`` block
        (see :class:`~ingest.sdk.tasks.TaskCreation`): its creation time, and — ``in_process``: the
        queue is this process's — the task counted as waiting until a :meth:`task` of the same
        type and priority starts. Raises ``ValueError`` as :meth:`task` does."""
        self._check_task(task_type, priority)
        return TaskCreation(self, self._tasks, task_type, priority, in_process=in_process)

    def _check_task(self, task_type: str, priority: str) -> None:
        labels = {"task_type": task_type, "priority": priority, "outcome": "completed"}
        if (problem := check_labels({**self.labels, **labels}, self.limits)) is not None:
            raise ValueError(f"cannot track task {task_type[:40]!r}: {problem}")

    # ------------------------------------------------------------------ spans and logs (caller's thread)

    def span(
        self,
        operation: str,
        /,
        *,
        parent: SpanContext | ActiveSpan | None = None,
        kind: SpanKind | str = SpanKind.INTERNAL,
        **tags: object,
    ) -> ActiveSpan:
        """A span of ``operation``, started now: use it as ``with``/``async with`` block, which makes
        it the current span (nested spans and log records attach to it) and ends it on leaving;
        an exception leaving the block marks it an error. ``parent``: the span to continue (a
        context extracted from a ``traceparent`` header, see :mod:`ingest.sdk.traceparent`); default
        the current span, else a new trace starts. ``kind``: server, client, internal, producer,
        consumer. ``tags``: any scalars, stored as text. Raises ``ValueError`` for an empty or too
        long operation name or an unknown kind."""
        if not operation or len(operation) > self.limits.max_name_length:
            raise ValueError(
                f"cannot start span: operation must be 1 to {self.limits.max_name_length} characters, "
                f"got {len(operation)}"
            )
        context = parent.context if isinstance(parent, ActiveSpan) else parent
        if context is None:
            context = current_context()
        return ActiveSpan(
            self._spans.append, self.service, operation, context, kind=SpanKind(kind), tags=tags, limits=self.limits
        )

    def log(self, message: str, /, level: str = "info", *, ts_ns: int | None = None, **attributes: object) -> None:
        """Record a structured log record at ``level`` (trace, debug, info, warn, error, fatal;
        ``warning``/``critical`` accepted), correlated with the current span when there is one.
        ``ts_ns``: epoch nanoseconds (default now). Attribute values may be any scalar (stored as
        text); a message or value past the limits is truncated. Raises ``ValueError`` only for an
        unknown level."""
        context = current_context()
        text = str(message)
        self.add_log(
            LogRecord(
                ts_ns=time_ns() if ts_ns is None else int(ts_ns),
                service=self.service,
                level=parse_level(level),
                message=text,
                attributes=fit_attributes(attributes, self.limits) if attributes else {},
                trace_id=None if context is None else context.trace_id,
                span_id=None if context is None else context.span_id,
            )
        )

    def add_span(self, span: Span) -> None:
        """Buffer a finished span built by the caller (an importer, synthetic traffic); its service
        becomes the emitter's."""
        span.service = self.service
        self._spans.append(span)

    def add_log(self, record: LogRecord) -> None:
        """Buffer a log record built by the caller (:class:`~ingest.sdk.loghandler.LogHandler` does);
        its service becomes the emitter's and its message is truncated to the limit."""
        record.service = self.service
        if len(record.message) > self.limits.max_message_length:
            record.message = record.message[: self.limits.max_message_length]
        self._logs.append(record)

    def _build_spans(self, spans: list[Span]) -> list[list[Span]]:
        """On the sender's thread: redact and pack finished spans into records."""
        return pack_spans((redact_span(s, self.redactor) for s in spans), self.limits)

    def _build_logs(self, records: list[LogRecord]) -> list[list[LogRecord]]:
        return pack_logs((redact_log(r, self.redactor) for r in records), self.limits)

    def _bind(self, make: type[B], name: str, kind: MetricKind, labels: dict[str, str]) -> B:
        """Validate name and labels and make a bound instrument of their series (the slow path)."""
        if (problem := check_metric_name(name, self.limits)) is not None:
            raise ValueError(f"cannot record metric: {problem}")
        merged = {**self.labels, **labels} if self.labels else labels
        if (problem := check_labels(merged, self.limits)) is not None:
            raise ValueError(f"cannot record {name!r}: {problem}")
        series = self._buffer.series((name, kind, tuple(sorted(merged.items()))))
        return make(self._buffer, series, self._check_ts, self.limits.max_abs_value)

    def _cached(self, cache: dict[CallKey, B], make: type[B], name: str, kind: MetricKind, labels: dict[str, str]) -> B:
        """The unbound calls' instrument of ``name`` and ``labels``: cached, else :meth:`_bind` (and
        cached: at most ``_MAX_CACHED`` per kind, then the cache starts over; the series stay)."""
        key = (name, tuple(labels.items()))
        try:
            return cache[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable label value: let validation name it
            return self._bind(make, name, kind, labels)
        bound = self._bind(make, name, kind, labels)
        if len(cache) >= _MAX_CACHED:
            cache.clear()
        cache[key] = bound
        return bound

    def _lookup(
        self, name: str, kind: MetricKind, labels: dict[str, str]
    ) -> BoundDistribution | BoundCounter | BoundGauge:
        """The unbound calls' instrument of ``name`` of ``kind`` with ``labels``, for :meth:`_append`
        (:mod:`ingest.sdk.tasks` records its points so)."""
        if kind is _COUNTER:
            return self._cached(self._counters, BoundCounter, name, kind, labels)
        if kind is _GAUGE:
            return self._cached(self._gauges, BoundGauge, name, kind, labels)
        return self._cached(self._distributions, BoundDistribution, name, kind, labels)

    @staticmethod
    def _append(bound: BoundDistribution | BoundCounter | BoundGauge, value: float, ts_ms: int | None) -> None:
        """Record ``value`` through an instrument of :meth:`_lookup`, checked as its kind requires."""
        bound._record(value, ts_ms)

    def _check_ts(self, name: str, ts_ms: int, now_ms: int | None = None) -> int:
        ts = int(ts_ms)
        now = time_ns() // 1_000_000 if now_ms is None else now_ms
        if (problem := check_timestamp(ts, now, self.limits)) is not None:
            raise ValueError(f"cannot record {name!r}: {problem}")
        return ts

    def _wake_sender(self) -> None:
        """The buffer's ``on_fill``: a record's worth of points is open (the buffer predates the sender)."""
        self._sender.wake()

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log < _DROP_LOG_EVERY_S:
            return
        self._last_drop_log = now
        for what, buffer in (("points", self._buffer), ("spans", self._spans), ("log records", self._logs)):
            if n := buffer.take_unlogged_drops():
                why = "the emitter is closed" if buffer.closed else f"buffer of {buffer.capacity} {what} full"
                log.warning(
                    "cannot buffer %s of %s: dropped %d (%s; last Kafka error: %s)",
                    what, self.service, n, why, self._sender.last_error,
                )  # fmt: skip

    # ------------------------------------------------------------------ counters

    @property
    def sent(self) -> int:
        """Points acknowledged by Kafka."""
        return self._buffer.sent

    @property
    def dropped(self) -> int:
        """Points lost: buffer full, refused by Kafka, or unsent at close."""
        return self._buffer.dropped

    @property
    def buffered(self) -> int:
        """Points held and not yet acknowledged."""
        return self._buffer.held

    @property
    def spans_sent(self) -> int:
        """Spans acknowledged by Kafka."""
        return self._spans.sent

    @property
    def spans_dropped(self) -> int:
        """Spans lost: buffer full, refused by Kafka, or unsent at close."""
        return self._spans.dropped

    @property
    def logs_sent(self) -> int:
        """Log records acknowledged by Kafka."""
        return self._logs.sent

    @property
    def logs_dropped(self) -> int:
        """Log records lost: buffer full, refused by Kafka, or unsent at close."""
        return self._logs.dropped

    # ------------------------------------------------------------------ flush and close

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered so far; True when Kafka acknowledged all of it within
        ``timeout`` seconds (None: wait as long as it takes). Call from any thread but the
        emitter's own."""
        deadline = None if timeout is None else time.monotonic() + timeout
        buffers: list[PointBuffer | RecordBuffer[Any]] = [self._buffer, self._spans, self._logs]  # lane order
        if not self._sender.running:
            return all(b.held == 0 for b in buffers)
        firsts = [b.unsettled_from() for b in buffers]
        drained = self._sender.drain_soon()
        if drained is None:  # the loop is closed
            return False
        # Wait in slices: a thread that died (or stopped before running the drain) must not hang us.
        while True:
            try:
                uptos = drained.result(self._slice(deadline))
                break
            except concurrent.futures.TimeoutError:
                if not self._sender.is_alive() or self._slice(deadline) == 0.0:
                    return False
        for buffer, upto in zip(buffers, uptos, strict=True):
            wait = 0.0  # the first look does not wait: a dead thread must not cost a slice
            while not buffer.wait_settled(upto, wait):
                if not self._sender.is_alive() or (wait := self._slice(deadline)) == 0.0:
                    return False
        return not any(b.lost_between(first, upto) for b, first, upto in zip(buffers, firsts, uptos, strict=True))

    @staticmethod
    def _slice(deadline: float | None) -> float:
        """Seconds to wait next: at most 0.25, at most what is left before ``deadline``."""
        if deadline is None:
            return 0.25
        return min(0.25, max(0.0, deadline - time.monotonic()))

    async def aflush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - mirrors flush()
        """:meth:`flush` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.flush, timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Flush (at most ``timeout`` seconds), stop the background thread and return whether
        everything was acknowledged. Points still unsent are counted as dropped; points recorded
        afterwards are dropped. Idempotent."""
        with self._close_lock:
            closing, self._closing = self._closing, True
        if closing:  # closed, or being closed by another thread: wait for that
            self._sender.join(timeout)
            return bool(self._close_result)
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = self.flush(timeout)
        self._buffer.close()
        self._spans.close()
        self._logs.close()
        atexit.unregister(self._at_exit)
        self._sender.stop()
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._sender.join(None if remaining is None else remaining + 1.0)
        all_sent = True
        for what, buffer in (("points", self._buffer), ("spans", self._spans), ("log records", self._logs)):
            if unsent := buffer.discard():
                all_sent = False
                log.warning(
                    "cannot send %d %s of %s before closing (last Kafka error: %s)",
                    unsent, what, self.service, self._sender.last_error,
                )  # fmt: skip
        self._close_result = ok and all_sent
        return self._close_result

    async def aclose(self, timeout: float | None = 10.0) -> bool:  # noqa: ASYNC109 - mirrors close()
        """:meth:`close` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.close, timeout)

    def __enter__(self) -> Emitter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Emitter:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _at_exit(self) -> None:
        try:
            self.close(self._exit_timeout_s)
        except Exception:  # never fail interpreter exit
            log.exception("cannot flush metrics of %s at exit", self.service)


async def _send_points(producer: RecordProducer, item: Pending, timeout_s: float) -> None:
    await producer.send_metrics([item.batch], timeout_s=timeout_s)


async def _send_spans(producer: RecordProducer, item: Batch[Span], timeout_s: float) -> None:
    await producer.send_spans([item.items], timeout_s=timeout_s)


async def _send_logs(producer: RecordProducer, item: Batch[LogRecord], timeout_s: float) -> None:
    await producer.send_logs([item.items], timeout_s=timeout_s)
