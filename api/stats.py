"""Statistics of a bucket: percentiles from its merged digest, the rest from exact aggregates."""

from __future__ import annotations

from storage.queries import Bucket

__all__ = ["PERCENTILES", "STATS", "bucket_stats", "quantile_levels"]

PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}
STATS = (*PERCENTILES, "min", "max", "avg", "count", "sum", "rate")


def quantile_levels(stats: list[str]) -> list[float]:
    """The quantile levels to ask storage for, in the order :func:`bucket_stats` expects them."""
    return [PERCENTILES[s] for s in stats if s in PERCENTILES]


def bucket_stats(bucket: Bucket, stats: list[str], duration_ms: int) -> dict[str, float | int | None]:
    """The requested ``stats`` of one bucket; ``rate`` is per second over ``duration_ms``.

    ``bucket.quantiles`` holds the levels of :func:`quantile_levels` for the same ``stats``.
    ``rate`` counts observations for distributions and gauges, and sums increments for counters.
    """
    quantiles = dict(zip((s for s in stats if s in PERCENTILES), bucket.quantiles, strict=False))
    exact: dict[str, float | int | None] = {
        "count": bucket.count,
        "sum": bucket.sum,
        "min": bucket.min,
        "max": bucket.max,
        "avg": bucket.sum / bucket.count if bucket.count else None,
        "rate": (bucket.sum if bucket.kind == "counter" else bucket.count) * 1000.0 / duration_ms,
    }
    return {stat: quantiles[stat] if stat in PERCENTILES else exact[stat] for stat in stats}
