"""PointBuffer: the recording fast path keeps the buffer's guarantees (wake at a full record, drops
counted and reported, nothing after close, forgotten series revived)."""

from __future__ import annotations

from ingest.sdk.buffer import PointBuffer, Series
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


def make(batch_size: int = 100, capacity: int = 1_000) -> tuple[PointBuffer, Series, Calls]:
    """A buffer, the series of ``KEY`` in it, and its callbacks' counts."""
    calls = Calls()
    buffer = PointBuffer("svc", batch_size, capacity, on_fill=calls.fill, on_drop=calls.drop)
    return buffer, buffer.series(KEY), calls


def test_the_sender_is_woken_once_when_the_open_points_fill_a_record() -> None:
    buffer, series, calls = make(batch_size=100)
    for i in range(99):
        buffer.append(series, float(i), 1)
    assert calls.fills == 0
    buffer.append(series, 99.0, 1)
    assert calls.fills == 1
    for i in range(150):
        buffer.append(series, float(i), 1)
    assert calls.fills == 1  # told once until the next drain
    assert buffer.drain() == (3, 3)  # 250 points: records of 100, 100, 50
    for i in range(99):
        buffer.append(series, float(i), 1)
    assert calls.fills == 1
    buffer.append(series, 0.0, 1)
    assert calls.fills == 2
    assert buffer.held == 350 and buffer.dropped == 0


def test_drops_are_counted_and_reported_until_taken() -> None:
    buffer, series, calls = make(batch_size=5_000, capacity=10)
    for i in range(15):
        buffer.append(series, float(i), i)
    assert buffer.held == 10 and buffer.dropped == 5
    assert list(series.values) == [float(i) for i in range(10)]  # the new points were dropped
    assert calls.drops == 5  # after each dropping call: the drops wait to be reported
    assert buffer.take_unlogged_drops() == 5
    buffer.drain()
    record = buffer.take()
    assert record is not None and record.n == 10
    buffer.settle(record, True)  # acknowledged: room again
    buffer.append(series, 1.0, 1)
    buffer.append(series, 2.0, 2)
    assert calls.drops == 5  # nothing left to report: the fast path calls nothing
    assert buffer.held == 2 and list(series.ts) == [1, 2]


def test_a_full_buffer_evicts_the_oldest_built_record_for_a_new_point() -> None:
    buffer, series, _ = make(batch_size=4, capacity=8)
    for i in range(8):
        buffer.append(series, float(i), 1)
    buffer.drain()
    buffer.append(series, 8.0, 1)
    assert buffer.held == 5 and buffer.dropped == 4
    assert list(series.values) == [8.0]


def test_points_after_close_are_dropped() -> None:
    buffer, series, calls = make()
    buffer.append(series, 1.0, 1)
    buffer.close()
    buffer.append(series, 2.0, 1)
    assert buffer.held == 1 and buffer.dropped == 1 and calls.drops == 1
    assert list(series.values) == [1.0]


def test_a_forgotten_series_is_revived_as_itself() -> None:
    buffer, series, _ = make()
    buffer.append(series, 1.0, 1)
    buffer.drain()
    with buffer.lock:
        buffer._forget_idle_locked()  # what a drain does past 100,000 series
    assert not series.live
    buffer.append(series, 2.0, 2)  # a bound instrument still holds it
    assert series.live and buffer.series(KEY) is series
    assert list(series.values) == [2.0]
    other = Series(KEY)
    other.live = False
    buffer.append(other, 3.0, 3)  # a stale copy of a key that is live again: its points go there
    assert list(series.values) == [2.0, 3.0] and not other.values
