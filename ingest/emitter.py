"""The emitter SDK: what a Python service embeds to send its metrics to perfpulse.

Recording a point validates it at the call and appends it to a bounded
:class:`~ingest.buffer.PointBuffer`; nothing else happens on the caller's thread. A
:class:`~ingest.sender.Sender` thread drains the buffer into ``MetricBatch`` records of at most
``batch_size`` points when that many are waiting or every ``linger_ms``, and sends them. The
caller's code may be sync or async; the emitter never touches the caller's event loop.

The buffer holds at most ``max_buffer`` points and never makes the caller wait for Kafka: when
full it drops the oldest built record, or else the new point (see :mod:`ingest.buffer`). Drops
are logged as a rate-limited warning on ``perfpulse.ingest.emitter``.
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
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from ingest.buffer import PointBuffer, Series
from ingest.sender import Sender
from ingest.timer import Timer
from schemas import Limits, MetricKind, Topics
from schemas.checks import check_labels, check_metric_name, check_service, check_timestamp

__all__ = ["Emitter", "Timer"]

log = logging.getLogger("perfpulse.ingest.emitter")

_DIST: Final = MetricKind.DISTRIBUTION
_COUNTER: Final = MetricKind.COUNTER
_GAUGE: Final = MetricKind.GAUGE
_DROP_LOG_EVERY_S: Final = 10.0


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
        self._exit_timeout_s = exit_timeout_s

        self._buffer = PointBuffer(service, batch_size, max_buffer, on_fill=self._wake_sender, on_drop=self._log_drops)
        self._sender = Sender(
            self._buffer, bootstrap, self.topics, linger_ms=linger_ms, request_timeout_s=request_timeout_s
        )
        self._close_lock = threading.Lock()
        self._closing = False  # close() has begun
        self._close_result: bool | None = None
        self._last_drop_log = -math.inf
        self._sender.start()
        atexit.register(self._at_exit)

    # ------------------------------------------------------------------ recording (caller's thread)

    def observe(self, name: str, value: float, /, *, ts_ms: int | None = None, **labels: str) -> None:
        """Record one observation of a distribution (a latency in ms, a size)."""
        self._append(self._lookup(name, _DIST, labels), value, ts_ms)

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
        return self._buffer.extend(series, vals, ts)

    def timer(self, name: str, /, **labels: str) -> Timer:
        """A :class:`Timer` recording elapsed milliseconds into distribution ``name``."""
        return Timer(self, self._lookup(name, _DIST, labels))

    def _lookup(self, name: str, kind: MetricKind, labels: dict[str, str]) -> Series:
        try:
            series = self._buffer.index.get((name, kind, tuple(labels.items())))
        except TypeError:  # an unhashable label value: let validation name it
            series = None
        return self._resolve(name, kind, labels) if series is None else series

    def _resolve(self, name: str, kind: MetricKind, labels: dict[str, str]) -> Series:
        """Validate a new (name, kind, labels) combination and cache its series (the slow path)."""
        if (problem := check_metric_name(name, self.limits)) is not None:
            raise ValueError(f"cannot record metric: {problem}")
        merged = {**self.labels, **labels} if self.labels else labels
        if (problem := check_labels(merged, self.limits)) is not None:
            raise ValueError(f"cannot record {name!r}: {problem}")
        return self._buffer.series((name, kind, tuple(labels.items())), (name, kind, tuple(sorted(merged.items()))))

    def _append(self, series: Series, value: float, ts_ms: int | None) -> None:
        """Validate one point of a resolved series and buffer it (the hot path)."""
        v = float(value)
        if v - v != 0.0:  # NaN or infinity
            raise ValueError(f"value of {series.name!r} must be finite, got {value!r}")
        self._buffer.append(series, v, time_ns() // 1_000_000 if ts_ms is None else self._check_ts(series.name, ts_ms))

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
        if n := self._buffer.take_unlogged_drops():
            why = "the emitter is closed" if self._buffer.closed else f"buffer of {self.max_buffer} points full"
            log.warning(
                "cannot buffer metrics of %s: dropped %d points (%s; last Kafka error: %s)",
                self.service, n, why, self._sender.last_error,
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

    # ------------------------------------------------------------------ flush and close

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered so far; True when Kafka acknowledged all of it within
        ``timeout`` seconds (None: wait as long as it takes). Call from any thread but the
        emitter's own."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._sender.running:
            return self._buffer.held == 0
        first = self._buffer.unsettled_from()
        drained = self._sender.drain_soon()
        if drained is None:  # the loop is closed
            return False
        # Wait in slices: a thread that died (or stopped before running the drain) must not hang us.
        while True:
            try:
                upto = drained.result(self._slice(deadline))
                break
            except concurrent.futures.TimeoutError:
                if not self._sender.is_alive() or self._slice(deadline) == 0.0:
                    return False
        wait = 0.0  # the first look does not wait: a dead thread must not cost a slice
        while not self._buffer.wait_settled(upto, wait):
            if not self._sender.is_alive() or (wait := self._slice(deadline)) == 0.0:
                return False
        return not self._buffer.lost_between(first, upto)

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
        atexit.unregister(self._at_exit)
        self._sender.stop()
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._sender.join(None if remaining is None else remaining + 1.0)
        unsent = self._buffer.discard()
        self._close_result = ok and unsent == 0
        if unsent:
            log.warning(
                "cannot send %d points of %s before closing (last Kafka error: %s)",
                unsent, self.service, self._sender.last_error,
            )  # fmt: skip
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
