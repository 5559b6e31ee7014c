"""Statistics of one bucket: exact aggregates, rates per second, percentiles in the order asked.

(Merged percentile accuracy lives in tests/storage/test_accuracy.py: the merge runs in ClickHouse,
inside storage.queries.fetch_buckets.)
"""

from __future__ import annotations

import pytest

from api.stats import bucket_stats
from schemas.stats import QUANTILES, Stat, quantile_levels
from storage.queries import Bucket


def bucket(
    kind: str = "distribution", count: int = 4, total: float = 10.0, quantiles: list[float] | None = None
) -> Bucket:
    return Bucket(
        metric="m", group={}, t_ms=0, kind=kind, count=count, sum=total, min=1.0, max=4.0, quantiles=quantiles or []
    )


def stats(*names: str) -> list[Stat]:
    return [Stat(n) for n in names]


def test_every_documented_stat_is_offered() -> None:
    assert {s.value for s in Stat} == {"p50", "p90", "p95", "p99", "p999", "min", "max", "avg", "count", "sum", "rate"}
    assert QUANTILES == {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


def test_quantile_levels_follow_the_order_of_the_stats() -> None:
    assert quantile_levels(stats("count", "p99", "avg", "p50", "p999")) == [0.99, 0.5, 0.999]
    assert quantile_levels(stats("count", "sum")) == []


def test_exact_stats_of_a_distribution() -> None:
    got = bucket_stats(bucket(), stats("count", "sum", "min", "max", "avg"), 1_000)
    assert got == {"count": 4, "sum": 10.0, "min": 1.0, "max": 4.0, "avg": 2.5}
    assert isinstance(got["count"], int)


def test_percentiles_are_matched_to_their_levels() -> None:
    got = bucket_stats(bucket(quantiles=[3.5, 2.0]), stats("max", "p99", "count", "p50"), 1_000)
    assert got == {"max": 4.0, "p99": 3.5, "count": 4, "p50": 2.0}
    assert list(got) == ["max", "p99", "count", "p50"]


@pytest.mark.parametrize(("kind", "expected"), [("distribution", 2.0), ("gauge", 2.0), ("counter", 5.0)])
def test_rate_is_observations_per_second_or_increments_per_second_for_counters(kind: str, expected: float) -> None:
    assert bucket_stats(bucket(kind=kind), stats("rate"), 2_000) == {"rate": expected}


def test_avg_of_an_empty_bucket_is_none() -> None:
    assert bucket_stats(bucket(count=0, total=0.0), stats("avg", "count"), 1_000) == {"avg": None, "count": 0}
