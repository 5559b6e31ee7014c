"""The one percentile engine of perfpulse: a relative-accuracy log histogram (the DDSketch idea).

Every value maps to an integer *key*: the bucket ``(GAMMA**(i-1), GAMMA**i]`` of its magnitude,
shifted by :data:`OFFSET` so that positive values get keys >= 1, negated for negative values, 0 for
magnitudes up to :data:`MIN_MAGNITUDE`. Keys sort in value order. A histogram is the sparse sorted
list of keys with integer counts. The stream stage builds one per window and series, alerts merge
them, storage keeps them as pages of dense counts (storage/queries.py), and both read a quantile the
same way: the key holding the rank, turned into a value by :func:`values_of`, clamped to the exact
extremes. Alert values and API answers are therefore the same float.

Rank: at level ``q`` of ``n`` observations the answer is the nearest-rank order statistic, the
smallest value with at least ``q * n`` observations at or below it (0-based rank
``ceil(q * n) - 1``): the usual definition for latency objectives, which never reports the middle of
three requests as their p95. Bound: the answer lies within :data:`ALPHA` (relative) of that order
statistic (absolute :data:`MIN_MAGNITUDE` near zero). Why: that order statistic falls in the key the
search finds, and a key's value (the
bucket centre ``2 * GAMMA**i / (GAMMA + 1)``) is within ``ALPHA`` of every value in its bucket;
clamping to ``[min, max]`` only moves it closer. Why not a t-digest: a t-digest bounds the *rank*
error, so in a sparse tail (p99 of a heavy-tailed latency) a small rank error is a large value
error, and merging digests compresses again, adding error with every merge. Merging histograms adds
integer counts: exact, in any order and grouping, so windows, partitions and tiers merge to the
histogram of all the values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALPHA",
    "EMPTY",
    "GAMMA",
    "LN_GAMMA",
    "MIN_MAGNITUDE",
    "OFFSET",
    "PAGE_SLOTS",
    "Histogram",
    "answers",
    "answers_of_rows",
    "from_keys",
    "histogram",
    "keys_of",
    "merge",
    "quantiles",
    "rank_keys",
    "ranks",
    "ranks_of_rows",
    "values_of",
]

ALPHA: Final = 0.0008  # relative accuracy of every answer
GAMMA: Final = (1 + ALPHA) / (1 - ALPHA)  # ratio of a bucket's upper bound to its lower bound
LN_GAMMA: Final = math.log(GAMMA)
MIN_MAGNITUDE: Final = 1e-9  # magnitudes up to this count as 0 (key 0)
# Shifts keys so that the smallest magnitude above MIN_MAGNITUDE gets key 1 or more: keys keep
# their sign as the value's, so they sort in value order. 1e18 (the largest value accepted) maps
# to ~38,850: keys fit int32 with room to spare.
OFFSET: Final = 1 - math.ceil(math.log(MIN_MAGNITUDE) / LN_GAMMA)
PAGE_SLOTS: Final = 512  # keys per storage page: page p holds keys [p * 512, (p + 1) * 512)

Keys = npt.NDArray[np.int32]
Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts per key: ``keys`` strictly increasing int32, ``counts`` positive int64, same length."""

    keys: Keys
    counts: Counts

    @property
    def total(self) -> int:
        """Observations held (the sum of the counts)."""
        return int(self.counts.sum())


EMPTY = Histogram(np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64))


def keys_of(values: npt.ArrayLike) -> Keys:
    """The key of each value (finite floats)."""
    array = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(array)
    big = magnitude > MIN_MAGNITUDE
    with np.errstate(divide="ignore"):
        positive = OFFSET + np.ceil(np.log(np.where(big, magnitude, 1.0)) / LN_GAMMA)
    return np.where(big, np.sign(array) * positive, 0.0).astype(np.int32)


def values_of(keys: npt.ArrayLike) -> Floats:
    """The value each key stands for: its bucket's centre, within :data:`ALPHA` of every value of
    the bucket (0.0 for key 0)."""
    array = np.asarray(keys, dtype=np.int64)
    magnitude = 2.0 * np.power(GAMMA, np.abs(array) - OFFSET, dtype=np.float64) / (GAMMA + 1.0)
    return np.where(array == 0, 0.0, np.sign(array) * magnitude)


def histogram(values: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> Histogram:
    """The histogram of ``values``, each counted ``weights`` times (non-negative integers) or once."""
    return from_keys(keys_of(values), None if weights is None else np.asarray(weights, dtype=np.int64))


def merge(parts: Sequence[Histogram]) -> Histogram:
    """The histogram of all the observations of ``parts``: counts added per key (exact)."""
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    return from_keys(np.concatenate([p.keys for p in parts]), np.concatenate([p.counts for p in parts]))


def from_keys(keys: Keys, counts: Counts | None = None) -> Histogram:
    """The histogram of keys in any order, each counted ``counts`` times (or once); keys whose
    total is 0 are dropped."""
    if counts is None:
        unique, once = np.unique(keys, return_counts=True)
        return Histogram(unique.astype(np.int32), once.astype(np.int64))
    unique, inverse = np.unique(keys, return_inverse=True)
    # bincount sums in float64: exact for totals below 2**53 observations.
    summed = np.bincount(inverse.ravel(), weights=counts, minlength=len(unique)).astype(np.int64)
    keep = summed > 0
    return Histogram(unique[keep].astype(np.int32), summed[keep])


def ranks(total: int, levels: Sequence[float]) -> npt.NDArray[np.int64]:
    """The 0-based rank read at each level: the nearest rank ``max(ceil(q * total), 1) - 1``."""
    first: npt.NDArray[np.int64] = ranks_of_rows(np.array([total]), levels)[0]
    return first


def ranks_of_rows(totals: npt.ArrayLike, levels: Sequence[float]) -> npt.NDArray[np.int64]:
    """:func:`ranks` of many aggregates at once: a row of ranks per total (Float64 arithmetic, so
    storage's queries, which search every group's histogram at once, read the alert path's ranks)."""
    product = np.asarray(levels, dtype=np.float64)[None, :] * np.asarray(totals).astype(np.float64)[:, None]
    found: npt.NDArray[np.int64] = (np.maximum(np.ceil(product), 1) - 1).astype(np.int64)
    return found


def rank_keys(hist: Histogram, levels: Sequence[float]) -> Keys:
    """The key holding the rank of each level: the first whose cumulative count exceeds it."""
    cumulative = np.cumsum(hist.counts)
    return hist.keys[np.searchsorted(cumulative, ranks(int(cumulative[-1]), levels), side="right")]


def answers(keys: npt.ArrayLike, minimum: float, maximum: float) -> list[float]:
    """The values of rank ``keys`` clamped to the exact ``[minimum, maximum]`` of the aggregate:
    the last step of every percentile perfpulse reports, alert or query alike."""
    return answers_of_rows(np.asarray(keys)[None, :], np.array([minimum]), np.array([maximum]))[0]


def answers_of_rows(keys: npt.ArrayLike, minimum: npt.ArrayLike, maximum: npt.ArrayLike) -> list[list[float]]:
    """:func:`answers` of many aggregates at once: a row of ``keys`` each, with its own extremes
    (numpy per call costs microseconds: a thousand groups answered one by one took ~13 ms)."""
    low = np.asarray(minimum, dtype=np.float64)[:, None]
    high = np.asarray(maximum, dtype=np.float64)[:, None]
    values: list[list[float]] = np.minimum(high, np.maximum(low, values_of(keys))).tolist()
    return values


def quantiles(hist: Histogram, levels: Sequence[float], minimum: float, maximum: float) -> list[float]:
    """The quantiles at ``levels`` (in [0, 1]) of a non-empty histogram whose observations lie in
    ``[minimum, maximum]``."""
    if not len(hist.keys):
        raise ValueError("cannot read quantiles of an empty histogram")
    return answers(rank_keys(hist, levels), minimum, maximum)
