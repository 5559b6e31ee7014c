"""The latency heatmap over real stored rollups: every observation counted once, in the value bucket
its histogram key falls in, per epoch-aligned time bucket, from window rows and from tiers alike."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import MetricKind
from schemas.sketch import keys_of
from storage import Store
from storage.heatmap import Heatmap, latency_heatmap
from tests.storage.builders import BASE_MS, HOUR_MS, insert_rows, window_row

METRIC = "http.server.duration"


def expected_cells(heat: Heatmap, values: np.ndarray) -> list[int]:
    """Counts per value bucket of ``values``, binned by their keys with the heatmap's own edges
    (each key's upper bound is GAMMA ** (k - OFFSET), the next bucket's first key starts above it)."""
    keys = keys_of(values)
    edge_keys = keys_of(np.asarray(heat.edges[1:-1]) * (1 + 1e-9))  # first key of buckets 1..n-1
    binned = np.bincount(np.searchsorted(edge_keys, keys, side="right"), minlength=len(heat.edges) - 1)
    return [int(n) for n in binned]


def test_counts_per_time_bucket_are_the_stored_observations_binned_by_key(store: Store) -> None:
    rng = np.random.default_rng(7)
    windows = [rng.lognormal(3.0, 1.2, size=200 + 50 * i) for i in range(6)]
    insert_rows(store, [window_row(v, window_start_ms=BASE_MS + i * 10_000) for i, v in enumerate(windows)])
    heat = latency_heatmap(store, METRIC, BASE_MS, BASE_MS + 60_000, 20_000, 30)
    assert heat.times == [BASE_MS, BASE_MS + 20_000, BASE_MS + 40_000]
    assert heat.total == sum(len(v) for v in windows) == sum(map(sum, heat.counts))
    assert len(heat.edges) - 1 <= 30 and all(len(row) == len(heat.edges) - 1 for row in heat.counts)
    assert heat.edges == sorted(heat.edges)
    everything = np.concatenate(windows)
    assert heat.edges[0] < everything.min() and everything.max() <= heat.edges[-1]
    for i, row in enumerate(heat.counts):
        values = np.concatenate(windows[2 * i : 2 * i + 2])
        assert row == expected_cells(heat, values)
    # equal steps on a log scale
    ratios = np.diff(np.log(heat.edges))
    assert np.allclose(ratios, ratios[0])


def test_tiers_serve_whole_hours_with_the_same_counts(store: Store) -> None:
    first = BASE_MS - HOUR_MS
    rows = [window_row([float(5 + i % 40)] * 3, window_start_ms=first + i * 120_000) for i in range(60)]
    insert_rows(store, rows)
    by_hour = latency_heatmap(store, METRIC, first, first + 2 * HOUR_MS, HOUR_MS, 10)
    by_window = latency_heatmap(store, METRIC, first, first + 2 * HOUR_MS, 1_000, 10)
    assert by_hour.total == by_window.total == 180
    assert by_hour.times == [first, first + HOUR_MS]
    assert by_hour.edges == by_window.edges
    assert [sum(r) for r in by_hour.counts] == [90, 90]
    summed = np.sum(by_window.counts, axis=0).tolist()
    assert np.sum(by_hour.counts, axis=0).tolist() == summed


def test_service_and_label_filters_choose_the_series(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([10.0, 20.0], labels={"route": "/a"}),
            window_row([30.0], labels={"route": "/b"}),
            window_row([40.0, 50.0, 60.0], service="frontend", labels={"route": "/a"}),
        ],
    )
    end = BASE_MS + 10_000
    assert latency_heatmap(store, METRIC, BASE_MS, end, 10_000, 5).total == 6
    assert latency_heatmap(store, METRIC, BASE_MS, end, 10_000, 5, ["gateway"]).total == 3
    assert latency_heatmap(store, METRIC, BASE_MS, end, 10_000, 5, [], {"route": "/a"}).total == 5
    assert latency_heatmap(store, METRIC, BASE_MS, end, 10_000, 5, ["frontend"], {"route": "/b"}).total == 0


def test_zero_durations_count_in_the_first_bucket(store: Store) -> None:
    insert_rows(store, [window_row([0.0, 0.0, 1.0, 100.0])])
    heat = latency_heatmap(store, METRIC, BASE_MS, BASE_MS + 1_000, 1_000, 4)
    assert heat.total == 4 and heat.counts[0][0] == 3 and heat.counts[0][-1] == 1
    assert heat.edges[0] < 1.0 and heat.edges[-1] >= 100.0


def test_one_value_gives_one_bucket(store: Store) -> None:
    insert_rows(store, [window_row([42.0] * 5)])
    heat = latency_heatmap(store, METRIC, BASE_MS, BASE_MS + 1_000, 1_000, 40)
    assert heat.counts == [[5]] and heat.edges[0] < 42.0 <= heat.edges[1]


def test_nothing_stored_and_counters_answer_empty(store: Store) -> None:
    insert_rows(store, [window_row([3.0], name="reqs", kind=MetricKind.COUNTER)])
    for metric in ("reqs", "nothing.here"):
        heat = latency_heatmap(store, metric, BASE_MS, BASE_MS + 1_000, 1_000, 10)
        assert heat == Heatmap([], [], [], 0)


@pytest.mark.parametrize(("buckets", "step"), [(0, 1_000), (10, 0)])
def test_no_bucket_or_step_is_refused(store: Store, buckets: int, step: int) -> None:
    with pytest.raises(ValueError, match="cannot build a heatmap"):
        latency_heatmap(store, METRIC, BASE_MS, BASE_MS + 1_000, step, buckets)
