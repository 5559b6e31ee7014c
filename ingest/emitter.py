"""The emitter SDK: what a Python service embeds to send its metrics to perfpulse.

Recording a point appends two numbers to the column arrays of its series under a lock; nothing
else happens on the caller's thread. A daemon thread owns an asyncio loop and a
:class:`~ingest.producer.RecordProducer`: it drains the columns into ``MetricBatch`` records of at
most ``batch_size`` points when that many are waiting or every ``linger_ms``, and sends them. The
caller's code may be sync or async; the emitter never touches the caller's event loop.

Buffer accounting (all counts in points):

- ``buffered``: held and not yet acknowledged — open columns, built batches, batches in flight.
  At most ``max_buffer``: when full, the oldest built batch not in flight is dropped to make room
  (fresh points are worth more than old ones while Kafka is down); when there is none, the new
  point is dropped. Either way the caller never waits for Kafka.
- ``sent``: acknowledged by Kafka. ``dropped``: lost (buffer full, record refused, or still
  unsent when the emitter closed), logged as a rate-limited warning on ``perfpulse.ingest.emitter``.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from types import TracebackType
from typing import Any, Final, TypeVar, cast

import numpy as np
import numpy.typing as npt

from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from schemas import Limits, MetricBatch, MetricKind, SeriesPoints, Topics
from schemas.checks import check_labels, check_metric_name, check_service

__all__ = ["Emitter", "Timer"]

log = logging.getLogger("perfpulse.ingest.emitter")

F = TypeVar("F", bound=Callable[..., Any])
_SeriesKey = tuple[str, MetricKind, tuple[tuple[str, str], ...]]
_Drained = tuple["_Series", "array.array[int]", "array.array[float]"]  # a series and its drained columns

_DIST: Final = MetricKind.DISTRIBUTION
_COUNTER: Final = MetricKind.COUNTER
_GAUGE: Final = MetricKind.GAUGE
_NEVER: Final = 1 << 62  # a _wake_at no buffer reaches
_MAX_SERIES: Final = 100_000  # past this many series, idle ones are forgotten at the next drain
_MAX_IN_FLIGHT: Final = 32  # records awaiting acknowledgement at once
# How long a record handed to Kafka may wait for its acknowledgement. Long on purpose: until then
# the producer retries it with its sequence number (no duplicate across a broker restart); after
# it, the record is sent again by a new producer, which could duplicate one the broker had written.
_ACK_PATIENCE_S: Final = 300.0
_MIN_BACKOFF_S: Final = 0.2
_MAX_BACKOFF_S: Final = 5.0
_DROP_LOG_EVERY_S: Final = 10.0


class _Series:
    """The open (not yet drained) points of one series, as native column arrays."""

    __slots__ = ("key", "kind", "labels", "live", "name", "ts", "values")

    def __init__(self, key: _SeriesKey) -> None:
        self.key = key
        self.name, self.kind, items = key
        self.labels = dict(items)  # merged with the emitter's default labels, validated
        self.ts = array.array("q")  # int64 epoch milliseconds
        self.values = array.array("d")  # float64, finite
        self.live = True  # False once forgotten by the emitter (a new _Series takes its key)


class _Pending:
    """A built record awaiting acknowledgement; ``seq`` orders records by drain."""

    __slots__ = ("batch", "n", "seq")

    def __init__(self, seq: int, batch: MetricBatch) -> None:
        self.seq = seq
        self.batch = batch
        self.n = batch.n_points


class Timer:
    """Records elapsed wall time in milliseconds as a distribution point of one series.

    Use as ``with``/``async with`` block (one block at a time per Timer object) or as a decorator of
    sync and async functions (each call timed on its own). The time is recorded also when the block
    or the call raises.
    """

    __slots__ = ("_emitter", "_series", "_start")

    def __init__(self, emitter: Emitter, series: _Series) -> None:
        self._emitter = emitter
        self._series = series
        self._start = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._emitter._append(self._series, (time.perf_counter() - self._start) * 1000.0, None)

    async def __aenter__(self) -> Timer:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__()

    def __call__(self, func: F) -> F:
        emitter, series = self._emitter, self._series
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    emitter._append(series, (time.perf_counter() - start) * 1000.0, None)

            return cast(F, timed_async)

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                emitter._append(series, (time.perf_counter() - start) * 1000.0, None)

        return cast(F, timed)


class Emitter:
    """Buffers the points of one service and sends them to Kafka from a background thread.

    Recording methods validate at the call and raise ``ValueError`` naming the offending name,
    label or value; they never block on Kafka. Label keyword arguments are the point's labels
    (merged over the default ``labels``); ``ts_ms`` is reserved for the timestamp (epoch ms,
    default: now) and must lie within the ``limits`` skew window. Thread-safe.
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
    ) -> None:
        """``batch_size``: points per Kafka record; ``linger_ms``: longest wait before a partial
        record is sent; ``max_buffer``: points held while Kafka is slow or down;
        ``request_timeout_s``: per attempt to reach Kafka; ``exit_timeout_s``: how long the atexit
        flush may take. Starts the background thread."""
        if (problem := check_service(service, limits)) is not None:
            raise ValueError(f"cannot create emitter: {problem}")
        default_labels = dict(labels or {})
        if (problem := check_labels(default_labels, limits)) is not None:
            raise ValueError(f"cannot create emitter: default {problem}")
        if not 1 <= batch_size <= limits.max_points_per_batch:
            raise ValueError(f"batch_size must be in 1..{limits.max_points_per_batch}, got {batch_size}")
        if max_buffer < 1 or linger_ms <= 0:
            raise ValueError(f"max_buffer and linger_ms must be positive, got {max_buffer} and {linger_ms}")
        self.service = service
        self.bootstrap = bootstrap
        self.topics = Topics(topic_prefix)
        self.labels = default_labels
        self.batch_size = batch_size
        self.linger_ms = linger_ms
        self.max_buffer = max_buffer
        self.limits = limits
        self._request_timeout_s = request_timeout_s
        self._exit_timeout_s = exit_timeout_s

        # The buffer, guarded by _lock.
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # notified when records leave the buffer
        self._index: dict[_SeriesKey, _Series] = {}  # (name, kind, labels as passed) -> series
        self._series: dict[_SeriesKey, _Series] = {}  # canonical key -> series
        self._dirty: list[_Series] = []  # series with open points
        self._held = 0  # points buffered (open + built + in flight)
        self._wake_at = batch_size  # _held at which the open points fill a record; _NEVER once woken
        self._limit = max_buffer  # 0 once closed: every new point is dropped
        self._pending: deque[_Pending] = deque()  # built records, oldest first
        self._in_flight: dict[int, _Pending] = {}
        self._next_seq = 0
        self._lost: deque[int] = deque(maxlen=65_536)  # seqs of records that left unacknowledged
        self._sent = 0
        self._dropped = 0
        self._unlogged_drops = 0
        self._closed = False
        self._close_result: bool | None = None
        self._last_drop_log = -math.inf
        self._last_error = "none yet"

        # The background thread's loop and its events (set from other threads via the loop).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._work: asyncio.Event | None = None
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name=f"perfpulse-emitter-{service}", daemon=True
        )
        self._thread.start()
        ready.wait()
        atexit.register(self._at_exit)

    # ------------------------------------------------------------------ recording (caller's thread)

    def observe(self, name: str, value: float, /, *, ts_ms: int | None = None, **labels: str) -> None:
        """Record one observation of a distribution (a latency in ms, a size)."""
        try:
            series = self._index.get((name, _DIST, tuple(labels.items())))
        except TypeError:  # an unhashable label value: let validation name it
            series = None
        if series is None:
            series = self._resolve(name, _DIST, labels)
        # The body of _append, in line: this is the call services make most.
        v = float(value)
        if v - v != 0.0:  # NaN or infinity
            raise ValueError(f"value of {name!r} must be finite, got {value!r}")
        ts = time_ns() // 1_000_000 if ts_ms is None else self._check_ts(name, ts_ms)
        wake = False
        lock = self._lock
        lock.acquire()
        try:
            held = self._held
            if held >= self._limit and not self._evict_oldest_locked():
                self._dropped += 1
                self._unlogged_drops += 1
            else:
                if not series.live:
                    series = self._revive_locked(series)
                values = series.values
                if not values:
                    self._dirty.append(series)
                values.append(v)
                series.ts.append(ts)
                self._held = held = self._held + 1
                if held >= self._wake_at:
                    self._wake_at = _NEVER
                    wake = True
        finally:
            lock.release()
        if wake:
            self._wake_flusher()
        if self._unlogged_drops:
            self._log_drops()

    def count(self, name: str, value: float = 1.0, /, *, ts_ms: int | None = None, **labels: str) -> None:
        """Add a non-negative increment to a counter (rates are sums per second)."""
        if value < 0:
            raise ValueError(f"counter {name!r} increment must not be negative, got {value!r}")
        self._append(self._lookup(name, _COUNTER, labels), value, ts_ms)

    def gauge(self, name: str, value: float, /, *, ts_ms: int | None = None, **labels: str) -> None:
        """Record a sampled level (queue length, memory in bytes, utilisation 0..1)."""
        self._append(self._lookup(name, _GAUGE, labels), value, ts_ms)

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

        ``values``: a 1-D sequence or array of finite numbers. ``ts_ms``: one timestamp for all
        (default now) or one per value. Points that do not fit in the buffer are dropped and counted.
        """
        vals = np.ascontiguousarray(values, dtype=np.float64)
        if vals.ndim != 1:
            raise ValueError(f"values of {name!r} must be one-dimensional, got shape {vals.shape}")
        finite = np.isfinite(vals)
        if not finite.all():
            bad = int(np.argmin(finite))
            raise ValueError(f"values of {name!r} must be finite, got {vals[bad]!r} at index {bad}")
        n = len(vals)
        if ts_ms is None or np.ndim(ts_ms) == 0:
            now = time_ns() // 1_000_000
            ts_one = now if ts_ms is None else self._check_ts(name, cast(int, ts_ms), now)
            ts = np.full(n, ts_one, dtype=np.int64)
        else:
            ts = np.ascontiguousarray(ts_ms, dtype=np.int64)
            if ts.shape != vals.shape:
                raise ValueError(f"ts_ms of {name!r} must hold one timestamp per value ({n}), got {ts.shape}")
            if n:
                now = time_ns() // 1_000_000
                self._check_ts(name, int(ts.min()), now)
                self._check_ts(name, int(ts.max()), now)
        series = self._lookup(name, _DIST, labels)
        if n == 0:
            return 0
        wake = False
        with self._lock:
            while self._limit - self._held < n and self._evict_oldest_locked():
                pass
            kept = max(0, min(n, self._limit - self._held))
            if kept < n:
                self._dropped += n - kept
                self._unlogged_drops += n - kept
            if kept:
                if not series.live:
                    series = self._revive_locked(series)
                if not series.values:
                    self._dirty.append(series)
                series.values.frombytes(vals[:kept].data.cast("B"))
                series.ts.frombytes(ts[:kept].data.cast("B"))
                self._held += kept
                if self._held >= self._wake_at:
                    self._wake_at = _NEVER
                    wake = True
        if wake:
            self._wake_flusher()
        if self._unlogged_drops:
            self._log_drops()
        return kept

    def timer(self, name: str, /, **labels: str) -> Timer:
        """A :class:`Timer` recording elapsed milliseconds into distribution ``name``."""
        return Timer(self, self._lookup(name, _DIST, labels))

    def _lookup(self, name: str, kind: MetricKind, labels: dict[str, str]) -> _Series:
        try:
            series = self._index.get((name, kind, tuple(labels.items())))
        except TypeError:  # an unhashable label value: let validation name it
            series = None
        return self._resolve(name, kind, labels) if series is None else series

    def _append(self, series: _Series, value: float, ts_ms: int | None) -> None:
        """Buffer one point of a resolved series (the hot path; ``observe`` has a copy in line)."""
        v = float(value)
        if v - v != 0.0:  # NaN or infinity
            raise ValueError(f"value of {series.name!r} must be finite, got {value!r}")
        ts = time_ns() // 1_000_000 if ts_ms is None else self._check_ts(series.name, ts_ms)
        wake = False
        lock = self._lock
        lock.acquire()  # cheaper than ``with`` on this path
        try:
            held = self._held
            if held >= self._limit and not self._evict_oldest_locked():
                self._dropped += 1
                self._unlogged_drops += 1
            else:
                if not series.live:
                    series = self._revive_locked(series)
                values = series.values
                if not values:
                    self._dirty.append(series)
                values.append(v)
                series.ts.append(ts)
                self._held = held = self._held + 1
                if held >= self._wake_at:
                    self._wake_at = _NEVER
                    wake = True
        finally:
            lock.release()
        if wake:
            self._wake_flusher()
        if self._unlogged_drops:
            self._log_drops()

    def _resolve(self, name: str, kind: MetricKind, labels: dict[str, str]) -> _Series:
        """Validate a new (name, kind, labels) combination and cache its series (the slow path)."""
        if (problem := check_metric_name(name, self.limits)) is not None:
            raise ValueError(f"cannot record metric: {problem}")
        merged = {**self.labels, **labels} if self.labels else labels
        if (problem := check_labels(merged, self.limits)) is not None:
            raise ValueError(f"cannot record {name!r}: {problem}")
        key: _SeriesKey = (name, kind, tuple(sorted(merged.items())))
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(key)
            self._index[(name, kind, tuple(labels.items()))] = series
        return series

    def _revive_locked(self, series: _Series) -> _Series:
        live = self._series.get(series.key)
        if live is None:
            live = self._series[series.key] = _Series(series.key)
        return live

    def _check_ts(self, name: str, ts_ms: int, now_ms: int | None = None) -> int:
        ts = int(ts_ms)
        now = time_ns() // 1_000_000 if now_ms is None else now_ms
        past, future = self.limits.max_past_ms, self.limits.max_future_ms
        if not now - past <= ts <= now + future:
            raise ValueError(
                f"timestamp {ts} of {name!r} is {(ts - now) / 60_000:+.1f} min from now; accepted: "
                f"{past / 60_000:g} min back to {future / 60_000:g} min ahead"
            )
        return ts

    def _evict_oldest_locked(self) -> bool:
        """Drop the oldest built record not in flight to make room; False when there is none."""
        if not self._pending:
            return False
        oldest = self._pending.popleft()
        self._held -= oldest.n
        self._wake_at -= oldest.n
        self._dropped += oldest.n
        self._unlogged_drops += oldest.n
        self._lost.append(oldest.seq)
        self._settled.notify_all()
        return True

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log < _DROP_LOG_EVERY_S:
            return
        with self._lock:
            n, self._unlogged_drops = self._unlogged_drops, 0
            self._last_drop_log = now
        if n:
            why = "the emitter is closed" if self._closed else f"buffer of {self.max_buffer} points full"
            log.warning(
                "cannot buffer metrics of %s: dropped %d points (%s; last Kafka error: %s)",
                self.service, n, why, self._last_error,
            )  # fmt: skip

    def _wake_flusher(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed: the emitter is closing
                loop.call_soon_threadsafe(wake.set)

    # ------------------------------------------------------------------ counters

    @property
    def sent(self) -> int:
        """Points acknowledged by Kafka."""
        return self._sent

    @property
    def dropped(self) -> int:
        """Points lost: buffer full, refused by Kafka, or unsent at close."""
        return self._dropped

    @property
    def buffered(self) -> int:
        """Points held and not yet acknowledged."""
        return self._held

    # ------------------------------------------------------------------ flush and close

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered so far; True when Kafka acknowledged all of it within
        ``timeout`` seconds (None: wait as long as it takes). Call from any thread but the
        emitter's own."""
        deadline = None if timeout is None else time.monotonic() + timeout
        loop = self._loop
        if loop is None or not self._thread.is_alive():
            return self._held == 0
        with self._lock:
            first = self._min_unsettled_locked()
        drained: concurrent.futures.Future[int] = concurrent.futures.Future()
        try:
            loop.call_soon_threadsafe(self._drain_into, drained)
        except RuntimeError:  # the loop is closed
            return False
        # Wait in slices: a thread that died (or stopped before running the drain) must not hang us.
        while True:
            try:
                upto = drained.result(self._slice(deadline))
                break
            except concurrent.futures.TimeoutError:
                if not self._thread.is_alive() or self._slice(deadline) == 0.0:
                    return False
        with self._lock:
            while self._min_unsettled_locked() < upto:
                if not self._thread.is_alive() or self._slice(deadline) == 0.0:
                    return False
                self._settled.wait(self._slice(deadline))
            return not any(first <= seq < upto for seq in self._lost)

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
        with self._lock:
            if self._close_result is not None or self._closed:
                return bool(self._close_result)
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._limit = 0
        atexit.unregister(self._at_exit)
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the thread is gone
                loop.call_soon_threadsafe(self._begin_stop)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._thread.join(None if remaining is None else remaining + 1.0)
        with self._lock:
            unsent, self._held = self._held, 0
            self._pending.clear()
            self._in_flight.clear()
            self._dirty.clear()
            self._dropped += unsent
            self._close_result = ok and unsent == 0
            self._settled.notify_all()
        if unsent:
            log.warning(
                "cannot send %d points of %s before closing (last Kafka error: %s)",
                unsent, self.service, self._last_error,
            )  # fmt: skip
        return bool(self._close_result)

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

    def _min_unsettled_locked(self) -> int:
        lowest = self._pending[0].seq if self._pending else self._next_seq
        return min(lowest, *self._in_flight) if self._in_flight else lowest

    # ------------------------------------------------------------------ background thread

    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._run(ready))
        except Exception:
            log.exception("emitter thread of %s failed; points are dropped from now on", self.service)
        finally:
            ready.set()

    async def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake, self._stop, self._work = asyncio.Event(), asyncio.Event(), asyncio.Event()
        producer = RecordProducer(
            self.bootstrap, self.topics, client_id=f"perfpulse-emitter-{self.service}",
            request_timeout_s=self._request_timeout_s,
        )  # fmt: skip
        ready.set()
        sender = asyncio.create_task(self._send_loop(producer))
        linger_s = self.linger_ms / 1000.0
        try:
            while not self._stop.is_set():
                try:
                    async with asyncio.timeout(linger_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                if not self._stop.is_set():
                    self._drain()
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await producer.stop(timeout_s=0.0)

    def _begin_stop(self) -> None:
        assert self._stop is not None and self._wake is not None
        self._stop.set()
        self._wake.set()

    def _drain_into(self, result: concurrent.futures.Future[int]) -> None:
        try:
            result.set_result(self._drain())
        except BaseException as exc:
            result.set_exception(exc)
            raise

    def _drain(self) -> int:
        """Move the open points into records; return the seq after the last one built."""
        with self._lock:
            dirty, self._dirty = self._dirty, []
            taken = []
            for series in dirty:
                taken.append((series, series.ts, series.values))
                series.ts, series.values = array.array("q"), array.array("d")
            self._wake_at = self._held + self.batch_size  # nothing open any more
            if len(self._series) > _MAX_SERIES or len(self._index) > 4 * _MAX_SERIES:
                self._forget_idle_locked()
        records = self._build(taken)
        with self._lock:
            for batch in records:
                self._pending.append(_Pending(self._next_seq, batch))
                self._next_seq += 1
            upto = self._next_seq
        if records and self._work is not None:
            self._work.set()
        return upto

    def _forget_idle_locked(self) -> None:
        """Bound memory under label churn: drop the series with no open points and the call cache."""
        for key, series in list(self._series.items()):
            if not series.values:
                series.live = False
                del self._series[key]
        self._index.clear()

    def _build(self, taken: Sequence[_Drained]) -> list[MetricBatch]:
        """Cut drained columns into batches of at most ``batch_size`` points (numpy views, no copy)."""
        batches: list[MetricBatch] = []
        batch, size = MetricBatch(self.service, []), 0
        for series, ts_column, value_column in taken:
            ts = np.frombuffer(ts_column, dtype=np.int64)
            values = np.frombuffer(value_column, dtype=np.float64)
            start, n = 0, len(values)
            while start < n:
                if size == self.batch_size:
                    batches.append(batch)
                    batch, size = MetricBatch(self.service, []), 0
                end = min(n, start + self.batch_size - size)
                part = SeriesPoints(series.name, series.kind, series.labels, ts[start:end], values[start:end])
                batch.series.append(part)
                size += end - start
                start = end
        if batch.series:
            batches.append(batch)
        return batches

    async def _send_loop(self, producer: RecordProducer) -> None:
        """Send built records, up to ``_MAX_IN_FLIGHT`` at once; on failure requeue and back off."""
        assert self._work is not None and self._stop is not None
        in_flight: set[asyncio.Task[_Pending | None]] = set()
        backoff = _MIN_BACKOFF_S
        try:
            while not self._stop.is_set():  # not only cancellation: aiokafka may swallow one
                if not producer.started and self._pending:
                    # One connection attempt, not one per record, while Kafka is down.
                    try:
                        await producer.start()
                    except KafkaUnavailable as exc:
                        self._last_error = str(exc)
                        await self._backoff(backoff)
                        backoff = min(backoff * 2, _MAX_BACKOFF_S)
                        continue
                while len(in_flight) < _MAX_IN_FLIGHT and (item := self._take()) is not None:
                    in_flight.add(asyncio.create_task(self._send_one(producer, item)))
                if not in_flight:
                    await self._work.wait()
                    self._work.clear()
                    continue
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                failed = [item for task in done if (item := task.result()) is not None]
                if not failed:
                    backoff = _MIN_BACKOFF_S
                    continue
                # Kafka is unavailable: the others fail fast too (their producer was discarded).
                if in_flight:
                    await asyncio.wait(in_flight)
                    failed += [item for task in in_flight if (item := task.result()) is not None]
                    in_flight = set()
                self._requeue(failed)
                await self._backoff(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
        finally:
            for task in in_flight:
                task.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _backoff(self, seconds: float) -> None:
        """Sleep before the next attempt; cut short when the emitter stops."""
        assert self._stop is not None
        try:
            async with asyncio.timeout(seconds):
                await self._stop.wait()
        except TimeoutError:
            pass

    def _take(self) -> _Pending | None:
        with self._lock:
            if not self._pending:
                return None
            item = self._pending.popleft()
            self._in_flight[item.seq] = item
            return item

    def _requeue(self, failed: list[_Pending]) -> None:
        """Put records back in front, oldest first; they stay buffered (and evictable)."""
        with self._lock:
            for item in sorted(failed, key=lambda p: p.seq, reverse=True):
                if self._in_flight.pop(item.seq, None) is not None:
                    self._pending.appendleft(item)

    async def _send_one(self, producer: RecordProducer, item: _Pending) -> _Pending | None:
        """Send one record; return it when Kafka is unavailable (to retry), else None (settled)."""
        acknowledged = False
        try:
            await producer.send_metrics([item.batch], timeout_s=_ACK_PATIENCE_S)
            acknowledged = True
        except KafkaUnavailable as exc:
            self._last_error = str(exc)
            log.debug("%s", exc)
            return item
        except RecordRejected as exc:
            self._last_error = str(exc)
            log.error("dropping %d points of %s: %s", item.n, self.service, exc)
        except Exception as exc:  # a bug must not stop the sender: drop the record, say why
            self._last_error = repr(exc)
            log.exception("dropping %d points of %s: cannot send", item.n, self.service)
        with self._lock:
            if self._in_flight.pop(item.seq, None) is not None:
                self._held -= item.n
                self._wake_at -= item.n
                if acknowledged:
                    self._sent += item.n
                else:
                    self._dropped += item.n
                    self._lost.append(item.seq)
                self._settled.notify_all()
        return None
