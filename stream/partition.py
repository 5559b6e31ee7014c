"""Windowing of one metrics partition: a deterministic function of the partition's records.

Why deterministic: the stream stage promises that a worker killed at any moment and restarted
gives the same counts and percentiles as an undisturbed run. Faust's changelog-backed tables are
at-least-once (state written, offset not yet committed, restart: points counted twice), its
windowed tables lose or never expire windows across rebalances (faust-streaming issues #193 and
#385), and its exactly_once mode duplicates and crashes on rebalance (#323). Instead, the state of
a partition is rebuilt by replaying its records, and the replay must emit exactly what the first
run emitted. Three rules make it so:

1. Windows close on *ticks*, records the stream stage writes into the partition itself on a timer
   (a timer, so windows close on time when traffic stops; a record, so a replay sees each close at
   the same place among the points).
2. Every output carries the identity ``(partition, tick offset, chunk)``; a replay re-emits the same
   identities and the sink skips the ones it has already stored.
3. The committed offset is always a tick at or before the oldest record still held in open state
   (:attr:`PartitionWindows.restart_offset`): restarting there rebuilds that state exactly.

A point whose window already closed (its end plus the grace period is behind the last tick) is
*late*: it becomes a correction row for its window at the next tick, never dropped. A window that
would close more than the *horizon* past the last tick (points dated in the future, which would
pin the restart offset) is not held either: it is emitted as a partial row at the next tick.

Series are capped per window (stream/caps.py): points of new series past a cap go to an overflow
series of their metric, decided by what the window holds, so a replay decides the same.

Every decision depends on the watermark and the records since the restart offset, never on what
came before it: an earlier rule held a future window for a while *after it opened*, and a replay
that reopened it later (from a record past the restart offset) emitted it at another tick, counting
its points twice (found by the replay property test in tests/stream/test_partition.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from schemas import MetricBatch, RollupRow, Tick
from stream.aggregate import SeriesAggregate, SeriesKey
from stream.caps import SeriesCaps, WindowSeries

__all__ = ["PartitionWindows", "TickResult"]


@dataclass(slots=True)
class _Window:
    held: WindowSeries  # series -> SeriesAggregate, with what the caps count
    first_offset: int  # offset of the oldest record that contributed


@dataclass(slots=True)
class TickResult:
    rows: list[RollupRow]  # rows to emit for this tick, in a deterministic order
    closed_windows: int  # windows closed on time by this tick
    restart_offset: int | None  # offset to commit (a tick), None while no safe tick is known


class PartitionWindows:
    """Open windows and pending corrections of one metrics partition."""

    def __init__(
        self,
        window_ms: int,
        grace_ms: int,
        horizon_ms: int | None = None,
        caps: SeriesCaps = SeriesCaps(),  # noqa: B008 - frozen dataclass, safe as a default
    ) -> None:
        """A window closing more than ``horizon_ms`` after the watermark is emitted at each tick as a
        partial row instead of being held (default: a minute, or four windows and graces if longer);
        ``caps`` bound the series of a window and of one tick's corrections."""
        self.window_ms = window_ms  # tumbling window length, milliseconds
        self.grace_ms = grace_ms  # a window closes at end + grace, milliseconds
        self.horizon_ms = horizon_ms if horizon_ms is not None else max(60_000, 4 * (window_ms + grace_ms))
        self.watermark_ms: int | None = None  # close_ms of the newest tick seen
        self.caps = caps
        self.last_offset = -1  # offset of the last record handled
        self.overflow_points = 0  # points folded into overflow series so far (stream/caps.py)
        self._open: dict[int, _Window] = {}  # window start ms -> window
        self._late: dict[int, WindowSeries] = {}  # window start ms -> corrections since the last tick
        self._late_first_offset: int | None = None
        self._ticks: deque[int] = deque()  # offsets of ticks not yet behind the restart offset

    def add(self, offset: int, batch: MetricBatch) -> int:
        """Fold a batch in; return how many of its points were late."""
        self.last_offset = offset
        late_points = 0
        width = self.window_ms
        for series in batch.series:
            key: SeriesKey = (batch.service, series.name, series.kind, tuple(sorted(series.labels.items())))
            starts = series.ts - series.ts % width
            first, last = int(starts.min()), int(starts.max())
            if first == last:
                late_points += self._fold(offset, key, first, series.values, series.weights)
                continue
            for start in np.unique(starts).tolist():
                mine = starts == start
                weights = None if series.weights is None else series.weights[mine]
                late_points += self._fold(offset, key, start, series.values[mine], weights)
        return late_points

    def _fold(self, offset: int, key: SeriesKey, start: int, values: np.ndarray, weights: np.ndarray | None) -> int:
        if self._is_closed(start):
            held = self._late.get(start)
            if held is None:
                held = self._late[start] = WindowSeries()
                if self._late_first_offset is None:
                    self._late_first_offset = offset
            self._add(held, key, values, weights)
            return len(values)
        window = self._open.get(start)
        if window is None:
            window = self._open[start] = _Window(WindowSeries(), offset)
        self._add(window.held, key, values, weights)
        return 0

    def _add(self, held: WindowSeries, key: SeriesKey, values: np.ndarray, weights: np.ndarray | None) -> None:
        key, overflow = held.admit(key, self.caps)
        aggregate = held.series.get(key)
        if aggregate is None:
            aggregate = held.series[key] = SeriesAggregate(key[2])
        aggregate.add(values, weights)
        if overflow:
            self.overflow_points += len(values)

    def _is_closed(self, start: int) -> bool:
        return self.watermark_ms is not None and start + self.window_ms + self.grace_ms <= self.watermark_ms

    def tick(self, offset: int, tick: Tick) -> TickResult:
        """Advance the watermark; emit closed windows, windows past the horizon and corrections."""
        self.last_offset = offset
        self.watermark_ms = tick.close_ms if self.watermark_ms is None else max(self.watermark_ms, tick.close_ms)
        self._ticks.append(offset)
        rows: list[RollupRow] = []
        closed = 0
        for start in sorted(self._open):
            window = self._open[start]
            if self._is_closed(start):
                closed += 1
                rows.extend(agg.to_row(key, start, self.window_ms, False) for key, agg in window.held.series.items())
                del self._open[start]
            elif start + self.window_ms + self.grace_ms > self.watermark_ms + self.horizon_ms:
                rows.extend(agg.to_row(key, start, self.window_ms, True) for key, agg in window.held.series.items())
                del self._open[start]
        for start, held in self._late.items():
            rows.extend(agg.to_row(key, start, self.window_ms, True) for key, agg in held.series.items())
        self._late.clear()
        self._late_first_offset = None
        return TickResult(rows, closed, self._restart_offset(offset))

    def _restart_offset(self, tick_offset: int) -> int | None:
        if not self._open:
            self._ticks.clear()
            self._ticks.append(tick_offset)
            return tick_offset
        oldest = min(window.first_offset for window in self._open.values())
        while len(self._ticks) > 1 and self._ticks[1] < oldest:
            self._ticks.popleft()
        return self._ticks[0] if self._ticks and self._ticks[0] < oldest else None

    @property
    def open_windows(self) -> int:
        return len(self._open)
