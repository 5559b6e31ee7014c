"""The emitter's bounded point buffer: open columns per series, built records, and their fate.

Recording a point (a series' :meth:`~PointBuffer.recorder`) checks its value against the bounds it
was given and appends two numbers to the column arrays of its series under one lock, after one
comparison (``held`` against a threshold that stands for the capacity, a filled record, closing and
unreported drops); anything else takes a slower path that handles it. A drain
moves the open columns into ``MetricBatch`` records of at most ``batch_size`` points, numbered in
drain order (``seq``), which wait until the sender takes them and settles each one as
acknowledged or lost. Names and labels come in validated: this module checks none.

Accounting is the :class:`~ingest.sdk.ledger.Ledger`'s, counted in points: at most ``capacity`` are
held; when full, the oldest built record not in flight is dropped to make room (fresh points are
worth more than old ones while Kafka is down); when there is none, the new point is dropped. Either
way the caller never waits for Kafka.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Sequence
from time import time_ns
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from ingest.sdk.ledger import Ledger
from schemas import Limits, MetricBatch, MetricKind, SeriesPoints, pack_records

__all__ = ["Pending", "PointBuffer", "Record", "Series", "SeriesKey"]

SeriesKey = tuple[str, MetricKind, tuple[tuple[str, str], ...]]  # name, kind, sorted merged labels
_Drained = tuple["Series", "array.array[int]", "array.array[float]"]  # a series and its drained columns

_NEVER: Final = 1 << 62  # a wake threshold no buffer reaches
_MAX_SERIES: Final = 100_000  # past this many series, idle ones are forgotten at the next drain


class Record(Protocol):
    """Records one point of a series (see :meth:`PointBuffer.recorder`)."""

    def __call__(self, value: float, /, ts_ms: int | None = None) -> None: ...


class Series:
    """The open (not yet drained) points of one series, as native column arrays."""

    __slots__ = ("key", "kind", "labels", "live", "name", "ts", "values")

    def __init__(self, key: SeriesKey) -> None:
        self.key = key
        self.name, self.kind, items = key
        self.labels = dict(items)  # merged with the emitter's default labels, validated
        self.ts = array.array("q")  # int64 epoch milliseconds
        self.values = array.array("d")  # float64, finite
        self.live = True  # False once forgotten by the buffer (a new Series takes its key)


class Pending:
    """A built record awaiting acknowledgement; ``seq`` orders records by drain."""

    __slots__ = ("batch", "n", "seq")

    def __init__(self, seq: int, batch: MetricBatch) -> None:
        self.seq = seq
        self.batch = batch
        self.n = batch.n_points


class PointBuffer(Ledger[Pending]):
    """Holds at most ``capacity`` points of one service until Kafka acknowledges them. Thread-safe.

    ``on_fill`` is called (outside the lock) when the open points fill a record: drain soon.
    ``on_drop`` is called after a recording call while ``unlogged_drops`` is not zero: report them.
    """

    def __init__(
        self,
        service: str,
        batch_size: int,
        capacity: int,
        *,
        on_fill: Callable[[], None],
        on_drop: Callable[[], None],
    ) -> None:
        super().__init__()
        self.service = service
        self.batch_size = batch_size  # most points per built record
        self._record_limits = Limits(max_points_per_record=batch_size)
        self.capacity = capacity  # most points held
        self._on_fill = on_fill
        self._on_drop = on_drop
        self._series: dict[SeriesKey, Series] = {}  # canonical key -> series
        self._dirty: list[Series] = []  # series with open points
        self._wake_at = batch_size  # held at which the open points fill a record; _NEVER once told
        self._limit = capacity  # 0 once closed: every new point is dropped
        # Below this many held points :meth:`append` takes its fast path: there is room, and one more
        # point does not fill a record (which wakes the sender); 0 while drops are unreported. Kept
        # in step by _refresh_locked wherever one of those changes.
        self._fast_until = 0
        self._refresh_locked()

    def _refresh_locked(self) -> None:
        self._fast_until = 0 if self.unlogged_drops else min(self._limit, self._wake_at - 1)

    # ------------------------------------------------------------------ recording (caller's thread)

    def series(self, key: SeriesKey) -> Series:
        """The series of canonical ``key``, created if new."""
        with self.lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = Series(key)
        return series

    def recorder(
        self,
        series: Series,
        low: float,
        high: float,
        refuse: Callable[[object], Exception],
        check_ts: Callable[[int], int],
    ) -> Record:
        """The function that records one point of ``series``: ``record(value, ts_ms=None)``, the
        caller's hot path in one frame. ``value`` must lie in ``low..high`` (NaN never does), else
        ``refuse(value)`` is raised; ``ts_ms`` (default now) is passed through ``check_ts``, which
        raises for a refused one. The point is buffered, or dropped and counted when full."""
        lock = self.lock
        append_slow = self._append_slow

        def record(value: float, ts_ms: int | None = None) -> None:
            try:
                ok = low <= value <= high
            except TypeError:  # not a number: refuse() says so
                ok = False
            if not ok:
                raise refuse(value)
            ts = time_ns() // 1_000_000 if ts_ms is None else check_ts(ts_ms)
            with lock:
                # Room, no record filled, nothing to report, the series still indexed.
                if self.held < self._fast_until and series.live:
                    values = series.values
                    if not values:
                        self._dirty.append(series)
                    values.append(value)
                    series.ts.append(ts)
                    self.held += 1
                    return
            append_slow(series, value, ts)

        return record

    def _append_slow(self, series: Series, value: float, ts_ms: int) -> None:
        """Recording when the buffer is full or closed, a record's worth is open, drops wait to
        be reported, or the series was forgotten (the state is read again under the lock)."""
        wake = False
        with self.lock:
            held = self.held
            if held >= self._limit and not self._evict_oldest_locked():
                self._count_dropped_locked(1)
            else:
                if not series.live:
                    series = self._revive_locked(series)
                values = series.values
                if not values:
                    self._dirty.append(series)
                values.append(value)
                series.ts.append(ts_ms)
                self.held = held = self.held + 1
                if held >= self._wake_at:
                    self._wake_at = _NEVER
                    wake = True
            self._refresh_locked()
        if wake:
            self._on_fill()
        if self.unlogged_drops:
            self._on_drop()

    def extend(self, series: Series, values: npt.NDArray[np.float64], ts_ms: npt.NDArray[np.int64]) -> int:
        """Buffer the points that fit (finite values, accepted timestamps, same length; contiguous);
        return how many were kept, the rest are dropped."""
        n = len(values)
        wake = False
        with self.lock:
            while self._limit - self.held < n and self._evict_oldest_locked():
                pass
            kept = max(0, min(n, self._limit - self.held))
            if kept < n:
                self._count_dropped_locked(n - kept)
            if kept:
                if not series.live:
                    series = self._revive_locked(series)
                if not series.values:
                    self._dirty.append(series)
                series.values.frombytes(values[:kept].data.cast("B"))
                series.ts.frombytes(ts_ms[:kept].data.cast("B"))
                self.held += kept
                if self.held >= self._wake_at:
                    self._wake_at = _NEVER
                    wake = True
            self._refresh_locked()
        if wake:
            self._on_fill()
        if self.unlogged_drops:
            self._on_drop()
        return kept

    def _revive_locked(self, series: Series) -> Series:
        """The live series of a forgotten one's key: itself again (a bound instrument keeps using it,
        on the fast path) unless another took the key meanwhile."""
        live = self._series.get(series.key)
        if live is None:
            series.live = True
            live = self._series[series.key] = series
        return live

    def _released_locked(self, n: int) -> None:
        super()._released_locked(n)
        self._wake_at -= n  # the open points' threshold moves with what is held
        self._refresh_locked()

    def _count_dropped_locked(self, n: int) -> None:
        super()._count_dropped_locked(n)
        self._fast_until = 0  # the next point takes the slow path, which reports the drops

    def _clear_open_locked(self) -> None:
        self._dirty.clear()

    # ------------------------------------------------------------------ records (sender's thread)

    def drain(self) -> tuple[int, int]:
        """Move the open points into records; return how many were built and the seq after the last."""
        with self.lock:
            dirty, self._dirty = self._dirty, []
            taken = []
            for series in dirty:
                taken.append((series, series.ts, series.values))
                series.ts, series.values = array.array("q"), array.array("d")
            self._wake_at = self.held + self.batch_size  # nothing open any more
            self._refresh_locked()
            if len(self._series) > _MAX_SERIES:
                self._forget_idle_locked()
        return self._enqueue(self._build(taken), Pending)

    def _forget_idle_locked(self) -> None:
        """Bound memory under label churn: drop the series with no open points."""
        for key, series in list(self._series.items()):
            if not series.values:
                series.live = False
                del self._series[key]

    def _build(self, taken: Sequence[_Drained]) -> list[MetricBatch]:
        """Pack drained columns into records of at most ``batch_size`` points (numpy views, no copy)."""
        series = (
            SeriesPoints(
                s.name, s.kind, s.labels, np.frombuffer(ts, dtype=np.int64), np.frombuffer(v, dtype=np.float64)
            )
            for s, ts, v in taken
        )
        return list(pack_records(self.service, series, self._record_limits))

    def close(self) -> None:
        """Accept no more points: from now on every new point is dropped."""
        with self.lock:
            self.closed = True
            self._limit = 0
            self._refresh_locked()
