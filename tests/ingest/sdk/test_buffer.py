"""PointBuffer: the recording fast path keeps the buffer's guarantees (wake at a full record, drops
counted and reported, nothing after close, forgotten series revived)."""

from __future__ import annotations

import math

from ingest.sdk.buffer import PointBuffer, Record, Series
from schemas import MetricKind

KEY = ("m", MetricKind.DISTRIBUTION, ())


class Calls:
    """Counts the buffer's callbacks."""

    def __init__(self) -> None:
        self.fills = 0
        self.drops = 0

    def fill(self) -> None:
        self.fills += 1

    def drop(self) -> None:
        self.drops += 1


def recorder(buffer: PointBuffer, series: Series) -> Record:
    """Records any number, at the timestamp given."""
    return buffer.recorder(series, -math.inf, math.inf, ValueError, int)


def make(batch_size: int = 100, capacity: int = 1_000) -> tuple[PointBuffer, Series, Record, Calls]:
    """A buffer, the series of ``KEY`` in it, its recording function, and the callbacks' counts."""
    calls = Calls()
    buffer = PointBuffer("svc", batch_size, capacity, on_fill=calls.fill, on_drop=calls.drop)
    series = buffer.series(KEY)
    return buffer, series, recorder(buffer, series), calls


def test_the_sender_is_woken_once_when_the_open_points_fill_a_record() -> None:
    buffer, _, record, calls = make(batch_size=100)
    for i in range(99):
        record(float(i), 1)
    assert calls.fills == 0
    record(99.0, 1)
    assert calls.fills == 1
    for i in range(150):
        record(float(i), 1)
    assert calls.fills == 1  # told once until the next drain
    assert buffer.drain() == (3, 3)  # 250 points: records of 100, 100, 50
    for i in range(99):
        record(float(i), 1)
    assert calls.fills == 1
    record(0.0, 1)
    assert calls.fills == 2
    assert buffer.held == 350 and buffer.dropped == 0


def test_drops_are_counted_and_reported_until_taken() -> None:
    buffer, series, record, calls = make(batch_size=5_000, capacity=10)
    for i in range(15):
        record(float(i), i)
    assert buffer.held == 10 and buffer.dropped == 5
    assert list(series.values) == [float(i) for i in range(10)]  # the new points were dropped
    assert calls.drops == 5  # after each dropping call: the drops wait to be reported
    assert buffer.take_unlogged_drops() == 5
    buffer.drain()
    built = buffer.take()
    assert built is not None and built.n == 10
    buffer.settle(built, True)  # acknowledged: room again
    record(1.0, 1)
    record(2.0, 2)
    assert calls.drops == 5  # nothing left to report: the fast path calls nothing
    assert buffer.held == 2 and list(series.ts) == [1, 2]


def test_a_full_buffer_evicts_the_oldest_built_record_for_a_new_point() -> None:
    buffer, series, record, _ = make(batch_size=4, capacity=8)
    for i in range(8):
        record(float(i), 1)
    buffer.drain()
    record(8.0, 1)
    assert buffer.held == 5 and buffer.dropped == 4
    assert list(series.values) == [8.0]


def test_points_after_close_are_dropped() -> None:
    buffer, series, record, calls = make()
    record(1.0, 1)
    buffer.close()
    record(2.0, 1)
    assert buffer.held == 1 and buffer.dropped == 1 and calls.drops == 1
    assert list(series.values) == [1.0]


def test_a_forgotten_series_is_revived_as_itself() -> None:
    buffer, series, record, _ = make()
    record(1.0, 1)
    buffer.drain()
    with buffer.lock:
        buffer._forget_idle_locked()  # what a drain does past 100,000 series
    assert not series.live
    record(2.0, 2)  # a bound instrument still holds it
    assert series.live and buffer.series(KEY) is series
    assert list(series.values) == [2.0]
    other = Series(KEY)
    other.live = False
    recorder(buffer, other)(3.0, 3)  # a stale copy of a key that is live again: its points go there
    assert list(series.values) == [2.0, 3.0] and not other.values
