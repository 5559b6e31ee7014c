"""The canary verdict on samples built by the percentile engine itself: known latency and error
regressions fail, equal distributions and regressions under the threshold pass, small samples get
no verdict; the KS statistic and the error test against their textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from api.canary_stats import CanaryPolicy, error_test, ks_greater, verdict
from schemas.sketch import histogram
from storage.canary import Sample

POLICY = CanaryPolicy()


def sample(values: np.ndarray, errors: int = 0) -> Sample:
    return Sample("distribution", len(values), errors, float(values.min()), float(values.max()), histogram(values))


def latencies(seed: int, n: int = 5_000) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(3.5, 0.6, n)  # median ~33 ms


def test_a_ten_percent_slower_candidate_fails() -> None:
    base = latencies(1)
    answer = verdict(sample(base), sample(base * 1.10), POLICY)
    assert answer["verdict"] == "fail", answer["reasons"]
    assert answer["change"]["p95"] == pytest.approx(0.10, abs=0.002)
    assert answer["tests"]["ks_p_value"] < 1e-6 and "p95" in answer["reasons"][0]


def test_equal_distributions_pass() -> None:
    for seed in range(2, 7):
        answer = verdict(sample(latencies(seed)), sample(latencies(seed + 100)), POLICY)
        assert answer["verdict"] == "pass", answer
        assert abs(answer["change"]["p95"]) < 0.05 and answer["tests"]["ks_p_value"] > POLICY.alpha


def test_a_significant_rise_under_the_threshold_passes() -> None:
    base = latencies(3)
    answer = verdict(sample(base), sample(base * 1.05), POLICY)
    assert answer["tests"]["ks_p_value"] < POLICY.alpha  # slower, surely: but by 5 %, under the 10 % that matters
    assert answer["verdict"] == "pass" and answer["change"]["p95"] == pytest.approx(0.05, abs=0.002)
    tighter = verdict(sample(base), sample(base * 1.05), CanaryPolicy(p95_threshold=0.04))
    assert tighter["verdict"] == "fail"


def test_a_slow_tail_on_few_requests_is_not_significant() -> None:
    base = latencies(4, 120)
    slower = base.copy()
    slower[np.argsort(slower)[-8:]] *= 3.0  # p95 up a lot, but 8 requests of 120: not evidence
    answer = verdict(sample(base), sample(slower), POLICY)
    assert answer["change"]["p95"] > 0.10 and answer["tests"]["ks_p_value"] > POLICY.alpha
    assert answer["verdict"] == "pass" and "not significant" in answer["reasons"][0]


def test_an_error_regression_fails() -> None:
    base, cand = latencies(5), latencies(6)
    answer = verdict(sample(base, errors=2), sample(cand, errors=100), POLICY)  # 0.04 % -> 2 %
    assert answer["verdict"] == "fail" and "error rate" in answer["reasons"][0]
    assert answer["change"]["error_rate"] == pytest.approx(0.02 - 0.0004)
    same = verdict(sample(base, errors=10), sample(cand, errors=12), POLICY)  # 0.20 % -> 0.24 %: noise
    assert same["verdict"] == "pass"


def test_too_few_samples_get_no_verdict() -> None:
    answer = verdict(sample(latencies(7)), sample(latencies(8, 99)), POLICY)
    assert answer["verdict"] == "not-enough-data" and answer["tests"] is None
    assert answer["reasons"] == ["candidate has 99 observations, fewer than 100"]
    assert answer["candidate"]["count"] == 99 and answer["candidate"]["p95"] is not None
    empty = Sample("", 0, 0, math.nan, math.nan, histogram([]))
    nothing = verdict(empty, empty, POLICY)
    assert nothing["verdict"] == "not-enough-data" and len(nothing["reasons"]) == 2
    assert nothing["baseline"]["p95"] is None and nothing["baseline"]["error_rate"] is None


def test_ks_statistic_matches_the_empirical_distributions() -> None:
    base, cand = histogram([10.0, 20.0, 30.0, 40.0]), histogram([30.0, 40.0, 50.0, 60.0])
    assert ks_greater(base, cand) == 0.5  # at 20: 2/4 of the baseline, none of the candidate
    assert ks_greater(cand, base) == 0.0  # the baseline is nowhere slower
    assert ks_greater(base, base) == 0.0


def test_error_test_is_the_pooled_two_proportion_z() -> None:
    z, p = error_test(10, 1_000, 30, 1_000)  # pooled 2 %: se = sqrt(0.02 * 0.98 * 0.002)
    assert z == pytest.approx(0.02 / math.sqrt(0.02 * 0.98 * 0.002))
    assert p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert error_test(0, 100, 0, 100) == (0.0, 0.5)
