"""A canary verdict from two merged samples (:class:`storage.canary.Sample`): pass, fail or
not-enough-data, with the figures it rests on. Pure: no I/O, numpy only.

The verdict, in order:

1. **not-enough-data** when either side holds fewer than ``min_samples`` observations.
2. **fail** on a latency regression: the candidate's p95 is at least ``p95_threshold`` (relative)
   above the baseline's *and* a one-sided two-sample Kolmogorov-Smirnov test says the candidate's
   latencies are stochastically larger at level ``alpha``. Why both: the threshold says how much
   slower matters; the test says the difference is not noise (two samples of a few hundred
   requests of one service give p95s that can differ by more than 10 %).
3. **fail** on an error regression: the candidate's error rate exceeds the baseline's by more than
   ``error_rate_margin`` (absolute; the spec's 0.1 %) *and* a one-sided two-proportion z-test is
   significant at ``alpha``.
4. **pass** otherwise.

The KS statistic ``D+ = max_x (F_baseline(x) - F_candidate(x))`` is read from the two histograms
of the percentile engine (schemas/sketch.py): both use the same key grid, so their cumulative
counts are compared at every bucket boundary exactly; values inside one bucket (0.16 % wide) count
as ties. Its p-value is the asymptotic ``exp(-2 D+^2 n m / (n + m))`` (Smirnov), accurate for the
sample sizes ``min_samples`` admits. p50, p95 and p99 are the engine's answers (each within 0.08 %
of the exact order statistic), so the p95 comparison allows for both answers' error: a true 10 %
regression can read as 9.82 %, and is still caught.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from schemas.sketch import ALPHA, Histogram, quantiles
from storage.canary import Sample

__all__ = ["LEVELS", "CanaryPolicy", "Verdict", "error_test", "ks_greater", "verdict"]

LEVELS = (0.5, 0.95, 0.99)
Verdict = Literal["pass", "fail", "not-enough-data"]
# Two engine answers each within ALPHA of the truth: their ratio is within this factor of the true ratio.
_READ_ERROR = (1 - ALPHA) / (1 + ALPHA)


@dataclass(frozen=True, slots=True)
class CanaryPolicy:
    """When a candidate fails."""

    p95_threshold: float = 0.10  # relative rise of p95 that fails (0.10: 10 % slower)
    alpha: float = 0.01  # significance level of both tests
    min_samples: int = 100  # observations each side needs for a verdict
    error_rate_margin: float = 0.001  # absolute rise of the error rate that fails (0.001: 0.1 points)


def ks_greater(baseline: Histogram, candidate: Histogram) -> float:
    """``D+``: the largest amount by which the baseline's cumulative distribution exceeds the
    candidate's (0 when the candidate is nowhere slower). Both histograms must be non-empty."""
    keys = np.union1d(baseline.keys, candidate.keys)
    return max(0.0, float(np.max(_cdf(baseline, keys) - _cdf(candidate, keys))))


def _cdf(hist: Histogram, at: np.ndarray) -> np.ndarray:
    """Share of the observations at or below each key of ``at``."""
    cumulative = np.concatenate([[0], np.cumsum(hist.counts)])
    return cumulative[np.searchsorted(hist.keys, at, side="right")] / float(cumulative[-1])


def _ks_p_value(d_plus: float, n: int, m: int) -> float:
    return math.exp(-2.0 * d_plus * d_plus * n * m / (n + m))


def error_test(base_errors: int, base_n: int, cand_errors: int, cand_n: int) -> tuple[float, float]:
    """One-sided two-proportion z-test that the candidate's error rate is higher: ``(z, p-value)``;
    ``(0, 0.5)`` when there is no variance to test (no error, or only errors, on both sides)."""
    pooled = (base_errors + cand_errors) / (base_n + cand_n)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / base_n + 1 / cand_n))
    if spread == 0:
        return 0.0, 0.5
    z = (cand_errors / cand_n - base_errors / base_n) / spread
    return z, 0.5 * math.erfc(z / math.sqrt(2))


def _figures(sample: Sample) -> dict[str, Any]:
    levels = (
        quantiles(sample.histogram, LEVELS, sample.minimum, sample.maximum)
        if sample.histogram.total
        else [None] * len(LEVELS)
    )
    return {
        "count": sample.count,
        "errors": sample.errors,
        "error_rate": sample.errors / sample.count if sample.count else None,
        **dict(zip(("p50", "p95", "p99"), levels, strict=True)),
    }


def _change(base: float | None, cand: float | None) -> float | None:
    return None if base is None or cand is None or base <= 0 else cand / base - 1


def verdict(baseline: Sample, candidate: Sample, policy: CanaryPolicy) -> dict[str, Any]:
    """The verdict with its figures: ``verdict``, ``reasons``, each side's count, errors, error rate
    and p50/p95/p99, the relative ``change`` of each percentile, the absolute change of the error
    rate, and the ``tests`` (KS D+ and p-value, error z and p-value; null without a verdict)."""
    base, cand = _figures(baseline), _figures(candidate)
    body: dict[str, Any] = {
        "baseline": base,
        "candidate": cand,
        "change": {level: _change(base[level], cand[level]) for level in ("p50", "p95", "p99")},
        "policy": asdict(policy),
    }
    short = [name for name, s in (("baseline", baseline), ("candidate", candidate)) if s.count < policy.min_samples]
    if short:
        body["change"]["error_rate"] = None
        reasons = [f"{name} has {body[name]['count']} observations, fewer than {policy.min_samples}" for name in short]
        return {"verdict": "not-enough-data", "reasons": reasons, **body, "tests": None}
    d_plus = ks_greater(baseline.histogram, candidate.histogram)
    ks_p = _ks_p_value(d_plus, baseline.histogram.total, candidate.histogram.total)
    z, error_p = error_test(baseline.errors, baseline.count, candidate.errors, candidate.count)
    body["change"]["error_rate"] = cand["error_rate"] - base["error_rate"]
    body["tests"] = {"ks_d_plus": d_plus, "ks_p_value": ks_p, "error_z": z, "error_p_value": error_p}
    failures, remarks = [], []
    p95_change = body["change"]["p95"]
    if p95_change is not None and cand["p95"] >= base["p95"] * (1 + policy.p95_threshold) * _READ_ERROR:
        slower = f"p95 {cand['p95']:.3f} is {p95_change:+.1%} against {base['p95']:.3f}"
        if ks_p < policy.alpha:
            failures.append(f"{slower} (threshold {policy.p95_threshold:+.0%}; KS p={ks_p:.2g} < {policy.alpha})")
        else:
            remarks.append(f"{slower}, not significant (KS p={ks_p:.2g} >= {policy.alpha})")
    rise = body["change"]["error_rate"]
    if rise > policy.error_rate_margin:
        higher = f"error rate {cand['error_rate']:.3%} against {base['error_rate']:.3%}"
        if error_p < policy.alpha:
            failures.append(
                f"{higher} (margin {policy.error_rate_margin:.2%}; z={z:.2f}, p={error_p:.2g} < {policy.alpha})"
            )
        else:
            remarks.append(f"{higher}, not significant (p={error_p:.2g} >= {policy.alpha})")
    if failures:
        return {"verdict": "fail", "reasons": failures, **body}
    within = f"p95 {_percent(p95_change)} (threshold {policy.p95_threshold:+.0%}), error rate {rise:+.3%}"
    return {"verdict": "pass", "reasons": remarks or [f"{within} (margin {policy.error_rate_margin:+.2%})"], **body}


def _percent(change: float | None) -> str:
    return "change unknown" if change is None else f"{change:+.1%}"
