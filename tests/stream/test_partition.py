"""Windowing of one partition: closes on ticks, late points become corrections, and a replay from
the restart offset re-emits exactly what an undisturbed run emits (the exactly-once argument)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas import MetricBatch, MetricKind, RollupRow, SeriesPoints, Tick
from schemas.sketch import keys_of
from stream.partition import PartitionWindows

WINDOW, GRACE = 1_000, 500
BASE = 1_800_000_000_000  # a window-aligned epoch ms


def batch(
    points: list[tuple[int, float]], name: str = "lat", kind: MetricKind = MetricKind.DISTRIBUTION
) -> MetricBatch:
    ts = np.array([BASE + t for t, _ in points], dtype=np.int64)
    values = np.array([v for _, v in points], dtype=np.float64)
    return MetricBatch("svc", [SeriesPoints(name, kind, {"route": "/a"}, ts, values)])


def test_window_closes_only_after_end_plus_grace() -> None:
    windows = PartitionWindows(WINDOW, GRACE)
    windows.add(0, batch([(10, 1.0), (900, 3.0)]))
    early = windows.tick(1, Tick(BASE + WINDOW + GRACE - 1))
    assert early.rows == [] and early.closed_windows == 0
    due = windows.tick(2, Tick(BASE + WINDOW + GRACE))
    assert due.closed_windows == 1
    [row] = due.rows
    assert (row.window_start_ms, row.count, row.sum, row.min, row.max, row.late) == (BASE, 2, 4.0, 1.0, 3.0, False)
    assert row.keys.tolist() == keys_of([1.0, 3.0]).tolist() and row.counts.tolist() == [1, 1]


def test_points_are_split_across_windows() -> None:
    windows = PartitionWindows(WINDOW, GRACE)
    windows.add(0, batch([(10, 1.0), (1_010, 2.0), (2_010, 3.0), (1_500, 4.0)]))
    rows = windows.tick(1, Tick(BASE + 10_000)).rows
    assert [(r.window_start_ms - BASE, r.count, r.sum) for r in rows] == [(0, 1, 1.0), (1_000, 2, 6.0), (2_000, 1, 3.0)]


def test_late_point_becomes_a_correction_row_at_the_next_tick() -> None:
    windows = PartitionWindows(WINDOW, GRACE)
    windows.add(0, batch([(10, 1.0)]))
    windows.tick(1, Tick(BASE + 5_000))
    late = windows.add(2, batch([(20, 7.0), (30, 9.0)]))
    assert late == 2
    [row] = windows.tick(3, Tick(BASE + 5_100)).rows
    assert (row.window_start_ms, row.count, row.sum, row.late) == (BASE, 2, 16.0, True)


def test_counter_rows_carry_no_histogram() -> None:
    windows = PartitionWindows(WINDOW, GRACE)
    windows.add(0, batch([(1, 1.0), (2, 5.0)], name="requests", kind=MetricKind.COUNTER))
    [row] = windows.tick(1, Tick(BASE + 5_000)).rows
    assert row.kind is MetricKind.COUNTER and row.sum == 6.0 and len(row.keys) == len(row.counts) == 0


def test_weighted_values_count_as_many_observations() -> None:
    windows = PartitionWindows(WINDOW, GRACE)
    weighted = batch([(1, 2.0), (2, 8.0), (WINDOW + 1, 4.0)])
    weighted.series[0].weights = np.array([3, 1, 5], dtype=np.int64)
    windows.add(0, weighted)
    first, second = windows.tick(1, Tick(BASE + 2 * WINDOW + GRACE)).rows
    assert (first.count, first.sum, first.min, first.max) == (4, 14.0, 2.0, 8.0)
    assert first.counts.tolist() == [3, 1] and first.keys.tolist() == keys_of([2.0, 8.0]).tolist()
    assert (second.count, second.sum, second.counts.tolist()) == (5, 20.0, [5])


def test_window_past_the_horizon_is_emitted_at_the_next_tick() -> None:
    windows = PartitionWindows(WINDOW, GRACE, horizon_ms=2_000)
    windows.tick(0, Tick(BASE))
    windows.add(1, batch([(300_000, 5.0)]))  # five minutes ahead
    windows.add(2, batch([(1_000, 2.0)]))  # closes at 2.5 s: past the horizon too, for now
    windows.add(3, batch([(100, 1.0)]))  # closes at 1.5 s: held
    result = windows.tick(4, Tick(BASE))
    assert [(r.window_start_ms - BASE, r.late) for r in result.rows] == [(1_000, True), (300_000, True)]
    assert result.restart_offset == 0  # record 3 is still held
    closed = windows.tick(5, Tick(BASE + 1_500))
    assert [(r.window_start_ms - BASE, r.late) for r in closed.rows] == [(0, False)]
    assert closed.restart_offset == 5


def test_restart_offset_is_the_last_tick_before_the_oldest_open_record() -> None:
    windows = PartitionWindows(WINDOW, GRACE)
    assert windows.tick(0, Tick(BASE)).restart_offset == 0
    windows.add(1, batch([(100, 1.0)]))
    assert windows.tick(2, Tick(BASE + 200)).restart_offset == 0  # record 1 still open
    windows.add(3, batch([(1_100, 1.0)]))
    assert windows.tick(4, Tick(BASE + WINDOW + GRACE)).restart_offset == 2  # window 0 closed; record 3 open
    assert windows.tick(5, Tick(BASE + 2 * WINDOW + GRACE)).restart_offset == 5


def test_no_restart_offset_before_any_tick() -> None:
    windows = PartitionWindows(WINDOW, GRACE)
    windows.add(0, batch([(100, 1.0)]))
    windows.add(1, batch([(5_000, 1.0)]))
    # The first tick closes window 0 but record 1 is open and no tick precedes it.
    assert windows.tick(2, Tick(BASE + WINDOW + GRACE)).restart_offset is None


# --- replay equivalence -----------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    points: tuple[tuple[int, int, float], ...] = ()  # (series, ts offset ms, value)
    tick_ms: int | None = None


def to_batch(record: Record) -> MetricBatch:
    series = []
    for sid in sorted({s for s, _, _ in record.points}):
        ts = np.array([BASE + t for s, t, _ in record.points if s == sid], dtype=np.int64)
        values = np.array([v for s, _, v in record.points if s == sid], dtype=np.float64)
        series.append(SeriesPoints("lat", MetricKind.DISTRIBUTION, {"s": str(sid)}, ts, values))
    return MetricBatch("svc", series)


Emitted = dict[int, list[RollupRow]]  # tick offset -> rows


def run(log: list[Record], start: int, stop: int, horizon_ms: int) -> tuple[Emitted, dict[int, int | None]]:
    """Process log[start:stop]; return rows per tick offset and restart offset per tick offset."""
    windows = PartitionWindows(WINDOW, GRACE, horizon_ms=horizon_ms)
    rows: dict[int, list[RollupRow]] = {}
    restarts: dict[int, int | None] = {}
    for offset in range(start, stop):
        record = log[offset]
        if record.tick_ms is None:
            windows.add(offset, to_batch(record))
        else:
            result = windows.tick(offset, Tick(BASE + record.tick_ms))
            rows[offset], restarts[offset] = result.rows, result.restart_offset
    return rows, restarts


def row_key(row: RollupRow) -> tuple[object, ...]:
    return (row.labels["s"], row.window_start_ms, row.count, row.sum, row.min, row.max, row.late,
            tuple(row.keys.tolist()), tuple(row.counts.tolist()))  # fmt: skip


points = st.tuples(st.integers(0, 2), st.integers(-3_000, 8_000), st.floats(0.1, 1_000.0))
data_records = st.builds(lambda p: Record(points=tuple(p)), st.lists(points, min_size=1, max_size=6))


@st.composite
def logs(draw: st.DrawFn) -> list[Record]:
    raw = draw(st.lists(st.one_of(data_records, st.just(Record(tick_ms=0))), min_size=2, max_size=40))
    clock = 0
    out = []
    for record in raw:
        if record.tick_ms is None:
            out.append(record)
        else:
            clock += draw(st.integers(0, 1_500))
            out.append(Record(tick_ms=clock))
    return out


# The log that falsified an earlier rule (a future window held for a while after it opened: the
# replay reopened it later, from a record past the restart offset, and emitted it twice).
REOPENED = [
    Record(tick_ms=0), Record(((0, 1_000, 1.0),)), Record(tick_ms=0), Record(tick_ms=1),
    Record(((0, 1_000, 1.0), (0, 2_000, 1.0))), Record(tick_ms=1), Record(((0, 0, 1.0),)), Record(tick_ms=1),
    Record(((0, 0, 1.0),)), Record(tick_ms=500), Record(tick_ms=2_000), Record(((0, 0, 1.0),)), Record(tick_ms=2_001),
]  # fmt: skip


@example(log=REOPENED, crash_at=11, horizon_ms=2_000)
@settings(max_examples=500, deadline=None)
@given(log=logs(), crash_at=st.integers(0, 40), horizon_ms=st.sampled_from([0, 2_000, 60_000]))
def test_replay_from_restart_offset_emits_what_an_undisturbed_run_emits(
    log: list[Record], crash_at: int, horizon_ms: int
) -> None:
    crash_at = min(crash_at, len(log))
    undisturbed, _ = run(log, 0, len(log), horizon_ms)
    before, restarts = run(log, 0, crash_at, horizon_ms)
    committed = [r for r in restarts.values() if r is not None]
    restart = committed[-1] if committed else 0
    replayed, _ = run(log, restart, len(log), horizon_ms)

    # What a sink keeps: emissions before the crash, then replayed ones past what it already has.
    delivered = max(before, default=-1)
    stored = [row for rows in before.values() for row in rows]
    stored += [row for tick, rows in replayed.items() if tick > delivered for row in rows]
    expected = [row for rows in undisturbed.values() for row in rows]
    assert sorted(map(row_key, stored)) == sorted(map(row_key, expected))
    for tick, rows in replayed.items():
        if tick > delivered:
            assert list(map(row_key, rows)) == list(map(row_key, undisturbed[tick]))
