"""The per-window aggregate: exact count, sum and extremes, and the histogram of every value whatever
the batching (pending keys are consolidated as they pile up)."""

from __future__ import annotations

import math

import numpy as np

from schemas import MetricKind
from schemas.sketch import histogram
from stream.aggregate import PENDING_KEYS, SeriesAggregate

KEY = ("svc", "lat", MetricKind.DISTRIBUTION, ())


def test_a_window_of_many_batches_holds_the_histogram_of_all_its_values() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(3.0, 2.0, 3 * PENDING_KEYS + 123)
    weights = rng.integers(1, 9, len(values))
    aggregate = SeriesAggregate(MetricKind.DISTRIBUTION)
    for start in range(0, len(values), 2_000):
        aggregate.add(values[start : start + 2_000], weights[start : start + 2_000])
    row = aggregate.to_row(KEY, 0, 10_000, False)
    whole = histogram(values, weights)
    assert row.keys.tolist() == whole.keys.tolist() and row.counts.tolist() == whole.counts.tolist()
    assert row.count == int(weights.sum()) == int(row.counts.sum())
    assert math.isclose(row.sum, float(values @ weights), rel_tol=1e-12)
    assert (row.min, row.max) == (values.min(), values.max())


def test_a_counter_keeps_no_histogram() -> None:
    aggregate = SeriesAggregate(MetricKind.COUNTER)
    aggregate.add(np.array([1.0, 2.0]))
    row = aggregate.to_row(("svc", "reqs", MetricKind.COUNTER, ()), 0, 10_000, False)
    assert (row.count, row.sum, len(row.keys)) == (2, 3.0, 0)
