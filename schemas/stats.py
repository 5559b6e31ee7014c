"""The statistics vocabulary of perfpulse: what a query asks for and what an alert rule compares.

One list of names (``p50 … rate``) for the query API and the rules, so a rule reads like the query
that would show it. :func:`window_stats` turns a merged aggregate (count, sum, min, max and a
quantile function — schemas/sketch.py's) into the values asked for, with the one rate rule;
:func:`exact_stats` does the same from raw values, for rule unit tests and accuracy checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from enum import StrEnum

__all__ = ["QUANTILES", "Stat", "exact_stats", "quantile_levels", "window_stats"]


class Stat(StrEnum):
    """A statistic of one series (or group of series) over one evaluation window."""

    P50 = "p50"
    P90 = "p90"
    P95 = "p95"
    P99 = "p99"
    P999 = "p999"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    COUNT = "count"  # observations (distributions, gauges) or increments (counters) in the window
    SUM = "sum"  # sum of the values: of increments for counters
    RATE = "rate"  # per second: sum of increments for counters, observations for the other kinds


QUANTILES: dict[Stat, float] = {Stat.P50: 0.5, Stat.P90: 0.9, Stat.P95: 0.95, Stat.P99: 0.99, Stat.P999: 0.999}


def quantile_levels(stats: Collection[Stat]) -> list[float]:
    """The quantile levels among ``stats``, in their order."""
    return [QUANTILES[s] for s in stats if s in QUANTILES]


def window_stats(
    *,
    count: float,
    total: float,
    minimum: float,
    maximum: float,
    quantile: Callable[[float], float],
    counter: bool,
    window_ms: int,
    wanted: Collection[Stat] = tuple(Stat),
) -> dict[Stat, float]:
    """The ``wanted`` stats of a window from its merged aggregate.

    ``count`` observations with sum ``total``; ``quantile(q)`` answers for ``q`` in (0, 1) (a merged
    histogram's); ``counter`` says whether values are increments (rate = sum per second) or
    observations (rate = count per second); ``window_ms`` is the window the aggregate covers.
    An empty aggregate (count 0) yields only ``count``, ``sum`` and ``rate`` (all 0): the other stats
    do not exist for no data, and a rule comparing them sees no value.
    """
    seconds = window_ms / 1000.0
    out: dict[Stat, float] = {}
    for stat in wanted:
        if stat is Stat.COUNT:
            out[stat] = float(count)
        elif stat is Stat.SUM:
            out[stat] = float(total)
        elif stat is Stat.RATE:
            out[stat] = (total if counter else count) / seconds
        elif count <= 0:
            continue
        elif stat is Stat.MIN:
            out[stat] = float(minimum)
        elif stat is Stat.MAX:
            out[stat] = float(maximum)
        elif stat is Stat.AVG:
            out[stat] = total / count
        else:
            out[stat] = float(quantile(QUANTILES[stat]))
    return out


def _interpolated(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default ``linear`` method)."""
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def exact_stats(
    values: Sequence[float], *, counter: bool, window_ms: int, wanted: Collection[Stat] = tuple(Stat)
) -> dict[Stat, float]:
    """The ``wanted`` stats of raw ``values`` (observations, or increments when ``counter``)."""
    ordered = sorted(values)
    return window_stats(
        count=len(ordered),
        total=math.fsum(ordered),
        minimum=ordered[0] if ordered else math.nan,
        maximum=ordered[-1] if ordered else math.nan,
        quantile=lambda q: _interpolated(ordered, q),
        counter=counter,
        window_ms=window_ms,
        wanted=wanted,
    )
