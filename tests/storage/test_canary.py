"""The merged sample of a label set over real stored rollups: exact count, errors and extremes, and
the whole histogram, equal to the histogram of the values sent, whether read from window rows or tiers."""

from __future__ import annotations

import math

import numpy as np

from schemas.sketch import histogram, quantiles
from storage import Store
from storage.canary import label_sample
from tests.storage.builders import BASE_MS, HOUR_MS, insert_rows, window_row

METRIC = "http.server.duration"


def test_a_label_set_merges_every_series_carrying_it(store: Store) -> None:
    rng = np.random.default_rng(7)
    old = rng.lognormal(3.0, 0.5, 3_000)
    new_ok, new_failed = rng.lognormal(3.1, 0.5, 2_000), rng.lognormal(3.1, 0.5, 40)
    insert_rows(
        store,
        [
            # Spread over many windows and minutes: a range covering whole minutes reads the 1m tier.
            *(
                window_row(chunk, window_start_ms=BASE_MS + i * 7_000, labels={"version": "1.4", "route": "/a"})
                for i, chunk in enumerate(np.array_split(old, 30))
            ),
            *(
                window_row(chunk, window_start_ms=BASE_MS + i * 5_000, labels={"version": "1.5", "status_code": "200"})
                for i, chunk in enumerate(np.array_split(new_ok, 20))
            ),
            window_row(new_failed, window_start_ms=BASE_MS + 61_000, labels={"version": "1.5", "status_code": "503"}),
            window_row([1.0], window_start_ms=BASE_MS, service="other", labels={"version": "1.5"}),
            window_row([5.0], window_start_ms=BASE_MS, name="other.metric", labels={"version": "1.5"}),
        ],
    )
    end = BASE_MS + HOUR_MS
    for start in (BASE_MS, BASE_MS + 500):  # whole minutes (tiers), then window rows alone at the edge
        sample = label_sample(store, METRIC, {"version": "1.4"}, start, end, error_label="status_code")
        expected = old if start == BASE_MS else np.concatenate(np.array_split(old, 30)[1:])
        assert (sample.kind, sample.count, sample.errors) == ("distribution", len(expected), 0)
        assert (sample.minimum, sample.maximum) == (expected.min(), expected.max())
        exact = histogram(expected)
        assert sample.histogram.keys.tolist() == exact.keys.tolist()
        assert sample.histogram.counts.tolist() == exact.counts.tolist()

    candidate = label_sample(
        store, METRIC, {"version": "1.5"}, BASE_MS, end, services=["gateway"], error_label="status_code"
    )
    both = np.concatenate([new_ok, new_failed])
    assert (candidate.count, candidate.errors) == (2_040, 40)
    levels = [0.5, 0.95, 0.99]
    assert quantiles(candidate.histogram, levels, candidate.minimum, candidate.maximum) == quantiles(
        histogram(both), levels, float(both.min()), float(both.max())
    )
    everywhere = label_sample(store, METRIC, {"version": "1.5"}, BASE_MS, end)
    assert (everywhere.count, everywhere.errors) == (2_041, 0)  # the other service too; no error label asked


def test_no_matching_series_is_an_empty_sample(store: Store) -> None:
    insert_rows(store, [window_row([1.0], labels={"version": "1.4"})])
    for labels in ({"version": "2.0"}, {"version": "1.4", "region": "eu"}):
        sample = label_sample(store, METRIC, labels, BASE_MS, BASE_MS + HOUR_MS)
        assert (sample.kind, sample.count, sample.histogram.total) == ("", 0, 0) and math.isnan(sample.minimum)
