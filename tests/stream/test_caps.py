"""Series caps: past them a window holds a bounded number of series, the points of new series go to
overflow series without loss, and a replay decides the same."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import MetricBatch, MetricKind, SeriesPoints, Tick
from stream.caps import OVERFLOW_LABELS, OVERFLOW_METRIC, OVERFLOW_SERVICE, SeriesCaps, WindowSeries
from stream.partition import PartitionWindows

WINDOW, GRACE = 1_000, 500
BASE = 1_800_000_000_000
CAPS = SeriesCaps(max_series=10, max_per_service=4, max_overflow=3)


def requests(service: str, ids: range, t: int = 10, name: str = "lat") -> MetricBatch:
    """One point per request id, each id a label value: a series per request (the classic mistake)."""
    series = [
        SeriesPoints(name, MetricKind.DISTRIBUTION, {"request_id": str(i)}, np.array([BASE + t]), np.array([float(i)]))
        for i in ids
    ]
    return MetricBatch(service, series)


def test_a_service_past_its_cap_spills_into_one_overflow_series_of_its_metric() -> None:
    windows = PartitionWindows(WINDOW, GRACE, caps=CAPS)
    windows.add(0, requests("api", range(100)))
    rows = windows.tick(1, Tick(BASE + 5_000)).rows
    assert len(rows) == 5  # the first 4 series, then one overflow series
    spilled = [r for r in rows if r.labels == dict(OVERFLOW_LABELS)]
    assert [(r.service, r.name, r.count) for r in spilled] == [("api", "lat", 96)]
    assert sum(r.count for r in rows) == 100 and sum(r.sum for r in rows) == float(sum(range(100)))
    assert spilled[0].max == 99.0 and windows.overflow_points == 96


def test_the_window_cap_holds_across_services_and_overflow_series_are_bounded_too() -> None:
    windows = PartitionWindows(WINDOW, GRACE, caps=CAPS)
    for s in range(20):  # 20 services of 2 series each: 10 fit, then every service spills
        windows.add(s, requests(f"svc{s}", range(2), name=f"m{s}"))
    rows = windows.tick(100, Tick(BASE + 5_000)).rows
    assert sum(r.count for r in rows) == 40
    regular = [r for r in rows if r.labels != dict(OVERFLOW_LABELS)]
    overflow = [r for r in rows if r.labels == dict(OVERFLOW_LABELS)]
    assert len(regular) == 10
    # three overflow series of their own metric, then the one catch-all of the kind
    assert [(r.service, r.name) for r in overflow[:3]] == [("svc5", "m5"), ("svc6", "m6"), ("svc7", "m7")]
    assert [(r.service, r.name, r.count) for r in overflow[3:]] == [(OVERFLOW_SERVICE, OVERFLOW_METRIC, 24)]


def test_late_corrections_are_capped_as_windows_are() -> None:
    windows = PartitionWindows(WINDOW, GRACE, caps=CAPS)
    windows.tick(0, Tick(BASE + 5_000))  # the window at BASE is closed: what comes now is late
    assert windows.add(1, requests("api", range(50))) == 50
    rows = windows.tick(2, Tick(BASE + 5_100)).rows
    assert len(rows) == 5 and all(r.late for r in rows) and sum(r.count for r in rows) == 50


def test_a_replay_from_the_restart_offset_decides_the_same() -> None:
    def run(records: list[tuple[int, MetricBatch]]) -> list[tuple[str, str, int]]:
        windows = PartitionWindows(WINDOW, GRACE, caps=CAPS)
        for offset, record in records:
            windows.add(offset, record)
        return [(r.service, str(r.labels), r.count) for r in windows.tick(99, Tick(BASE + 5_000)).rows]

    records = [(i, requests(f"svc{i % 3}", range(i, i + 5))) for i in range(8)]
    assert run(records) == run(list(records))


@pytest.mark.parametrize("caps", [{"max_series": 0}, {"max_per_service": -1}, {"max_overflow": 0}])
def test_caps_must_be_positive(caps: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        SeriesCaps(**caps)


def test_a_series_already_held_stays_itself_after_the_cap_is_reached() -> None:
    held = WindowSeries()
    first = ("api", "lat", MetricKind.DISTRIBUTION, (("route", "/a"),))
    assert held.admit(first, SeriesCaps(1, 1, 1)) == (first, False)
    held.series[first] = None  # type: ignore[assignment]  # admit reads only the keys
    assert held.admit(first, SeriesCaps(1, 1, 1)) == (first, False)
    other = ("api", "lat", MetricKind.DISTRIBUTION, (("route", "/b"),))
    assert held.admit(other, SeriesCaps(1, 1, 1)) == (("api", "lat", MetricKind.DISTRIBUTION, OVERFLOW_LABELS), True)
