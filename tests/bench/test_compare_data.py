"""bench/compare_data.py: the compared samples are reproducible and the exact answers follow each
definition of a quantile."""

from __future__ import annotations

import numpy as np
import pytest

from bench.compare_data import (
    INTERPOLATED,
    NEAREST_RANK,
    SERIES,
    SPAN_MS,
    STEP_MS,
    Samples,
    data_start,
    exact_quantile,
    exact_steps,
    generate,
    relative_error,
)

T0 = 1_796_000_000_000


def test_same_seed_same_samples_other_seed_other_values() -> None:
    first, again, other = generate(120_000, 7, T0), generate(120_000, 7, T0), generate(120_000, 8, T0)
    for column in ("ts_ms", "series", "values"):
        assert np.array_equal(getattr(first, column), getattr(again, column))
    assert np.array_equal(first.ts_ms, other.ts_ms)
    assert not np.array_equal(first.values, other.values)


def test_timestamps_rise_within_the_span_distinct_per_series() -> None:
    samples = generate(360_000, 1, T0)
    assert samples.ts_ms[0] == T0 and samples.ts_ms[-1] < T0 + SPAN_MS
    assert np.all(np.diff(samples.ts_ms) >= 0)
    for k in range(len(SERIES)):
        ts = samples.ts_ms[samples.series == k]
        assert len(ts) == 30_000 and len(np.unique(ts)) == len(ts)


def test_values_have_a_body_and_a_heavy_tail_in_microseconds() -> None:
    values = generate(1_200_000, 1, T0).values
    assert np.all(values > 0)
    assert np.array_equal(values, np.round(values, 3))
    p50, p99, top = np.quantile(values, [0.5, 0.99, 1.0])
    assert p99 > 5 * p50 and top > 50 * p50  # Pareto(1.5) tail on 2 %


def test_refuses_more_samples_than_distinct_milliseconds() -> None:
    with pytest.raises(ValueError, match="distinct ms per series"):
        generate(len(SERIES) * SPAN_MS + 1, 1, T0)


def test_data_start_is_a_minute_ending_at_least_a_minute_ago() -> None:
    now = T0 + 12_345
    start = data_start(now)
    assert start % 60_000 == 0
    assert now - 120_000 < start + SPAN_MS <= now - 60_000


def test_service_mask_pools_its_routes() -> None:
    samples = generate(1_200, 1, T0)
    service, route = SERIES[5]
    assert samples.of(service, route).sum() == 100
    assert samples.of(service).sum() == 400
    with pytest.raises(ValueError, match="no series of service 'nope'"):
        samples.of("nope")


def test_exact_quantile_definitions() -> None:
    values = np.array([4.0, 1.0, 3.0, 2.0])
    assert exact_quantile(values, 0.5, NEAREST_RANK) == 2.0  # ceil(0.5 * 4) = 2nd smallest
    assert exact_quantile(values, 0.95, NEAREST_RANK) == 4.0
    assert exact_quantile(values, 0.5, INTERPOLATED) == 2.5
    assert exact_quantile(values, 0.95, INTERPOLATED) == pytest.approx(3.85)
    with pytest.raises(ValueError, match="no values"):
        exact_quantile(np.array([]), 0.5)


def test_exact_steps_split_the_span_into_steps() -> None:
    ts = np.array([T0, T0 + 1, T0 + STEP_MS - 1, T0 + STEP_MS, T0 + 3 * STEP_MS], dtype=np.int64)
    samples = Samples(ts, np.zeros(5, dtype=np.int16), np.array([1.0, 5.0, 3.0, 7.0, 9.0]))
    steps = exact_steps(samples, np.ones(5, dtype=bool), T0, 0.5)
    assert len(steps) == SPAN_MS // STEP_MS
    assert steps[0] == 3.0 and steps[1] == 7.0 and np.isnan(steps[2]) and steps[3] == 9.0
    assert np.isnan(steps[4:]).all()


def test_relative_error() -> None:
    assert relative_error(101.0, 100.0) == pytest.approx(0.01)
    assert relative_error(99.0, 100.0) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="exact value of 0"):
        relative_error(1.0, 0.0)
