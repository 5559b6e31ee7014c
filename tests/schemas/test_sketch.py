"""The percentile engine: keys and values, ordering, weights, exact merges and the ALPHA bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.sketch import (
    ALPHA,
    MIN_MAGNITUDE,
    Histogram,
    histogram,
    keys_of,
    merge,
    quantiles,
    rank_keys,
    values_of,
)

# Values as perfpulse accepts them (finite, |v| <= 1e18), with zeros and tiny magnitudes.
values = st.one_of(
    st.floats(-1e18, 1e18, allow_nan=False),
    st.sampled_from([0.0, -0.0, MIN_MAGNITUDE, -MIN_MAGNITUDE, 2 * MIN_MAGNITUDE, 1.0, -1.0]),
)
samples = st.lists(values, min_size=1, max_size=300)
LEVELS = [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]


def same(a: Histogram, b: Histogram) -> bool:
    return a.keys.tolist() == b.keys.tolist() and a.counts.tolist() == b.counts.tolist()


def within_alpha(answer: float, exact: float) -> bool:
    # The bucket centre is ALPHA from the bucket's ends; a value on a boundary may round into the
    # neighbouring bucket, still ALPHA away (plus float rounding).
    return abs(answer - exact) <= ALPHA * abs(exact) * (1 + 1e-9) + MIN_MAGNITUDE


def test_keys_of_zero_tiny_and_signed_values() -> None:
    keys = keys_of([0.0, -0.0, 1e-12, -MIN_MAGNITUDE, 1.0, -1.0, 1e18])
    assert keys[:4].tolist() == [0, 0, 0, 0]
    assert keys[4] >= 1 and keys[5] == -keys[4]
    assert keys.dtype == np.int32 and keys_of([MIN_MAGNITUDE * 1.0001])[0] >= 1
    assert values_of([0])[0] == 0.0


@given(samples)
def test_keys_sort_in_value_order(sample: list[float]) -> None:
    ordered = np.sort(np.asarray(sample))
    assert (np.diff(keys_of(ordered).astype(np.int64)) >= 0).all()


@given(values)
def test_a_key_stands_for_its_values_within_alpha(value: float) -> None:
    [back] = values_of(keys_of([value])).tolist()
    assert within_alpha(back, value)
    assert values_of(keys_of([-value]))[0] == -back


@given(samples, st.data())
def test_weights_count_as_repeated_values(sample: list[float], data: st.DataObject) -> None:
    weights = data.draw(st.lists(st.integers(1, 50), min_size=len(sample), max_size=len(sample)))
    weighted = histogram(sample, weights)
    assert same(weighted, histogram(np.repeat(sample, weights)))
    assert weighted.total == sum(weights)


@given(samples, samples, samples)
def test_merging_is_exact_in_any_order_and_grouping(a: list[float], b: list[float], c: list[float]) -> None:
    ha, hb, hc = histogram(a), histogram(b), histogram(c)
    whole = histogram(a + b + c)
    assert same(merge([ha, merge([hb, hc])]), whole)
    assert same(merge([merge([hc, ha]), hb]), whole)
    assert same(merge([hb, hc, ha]), whole)


@settings(max_examples=200)
@given(samples)
def test_every_quantile_is_within_alpha_of_its_order_statistic(sample: list[float]) -> None:
    ordered = np.sort(np.asarray(sample))
    answers = quantiles(histogram(sample), LEVELS, float(ordered[0]), float(ordered[-1]))
    for q, answer in zip(LEVELS, answers, strict=True):
        exact = float(ordered[max(math.ceil(q * len(ordered)), 1) - 1])
        assert within_alpha(answer, exact), (q, answer, exact)


@pytest.mark.parametrize("seed", range(3))
def test_large_heavy_tailed_samples_stay_within_alpha(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sample = np.concatenate([rng.pareto(1.5, 200_000) + 1.0, -rng.lognormal(0.0, 3.0, 50_000), np.zeros(1_000)])
    ordered = np.sort(sample)
    levels = [0.001, 0.2, 0.5, 0.95, 0.99, 0.999, 0.9999]
    answers = quantiles(histogram(sample), levels, float(ordered[0]), float(ordered[-1]))
    for q, answer in zip(levels, answers, strict=True):
        assert within_alpha(answer, float(ordered[max(math.ceil(q * len(ordered)), 1) - 1]))


def test_rank_search_finds_the_first_key_past_the_rank() -> None:
    hist = Histogram(np.array([-5, 0, 7], dtype=np.int32), np.array([2, 1, 3], dtype=np.int64))
    # 6 observations: nearest ranks ceil(q * 6) - 1 = 0, 2, 3, 5 fall in keys -5, 0, 7, 7.
    assert rank_keys(hist, [0.0, 0.4, 0.6, 1.0]).tolist() == [-5, 0, 7, 7]


def test_answers_are_clamped_to_the_exact_extremes() -> None:
    assert quantiles(histogram([10.0]), [0.5], 10.0, 10.0) == [10.0]


def test_an_empty_histogram_has_no_quantiles() -> None:
    with pytest.raises(ValueError, match="cannot read quantiles of an empty histogram"):
        quantiles(histogram([]), [0.5], 0.0, 0.0)
