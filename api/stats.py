"""The stats of one query bucket, by the vocabulary of schemas/stats.py: what is API-specific is
only the shape (names to JSON values, ``count`` an integer, ``null`` where a stat has no value)."""

from __future__ import annotations

from schemas.stats import QUANTILES, Stat, window_stats
from storage.queries import Bucket

__all__ = ["bucket_stats"]


def bucket_stats(bucket: Bucket, stats: list[Stat], duration_ms: int) -> dict[str, float | int | None]:
    """The requested ``stats`` of one bucket; ``rate`` is per second over ``duration_ms``.

    ``bucket.quantiles`` holds the levels of :func:`schemas.stats.quantile_levels` for the same
    ``stats``, in that order.
    """
    levels = [QUANTILES[s] for s in stats if s in QUANTILES]
    found = dict(zip(levels, bucket.quantiles, strict=False))
    values = window_stats(
        count=bucket.count,
        total=bucket.sum,
        minimum=bucket.min,
        maximum=bucket.max,
        quantile=found.__getitem__,
        counter=bucket.kind == "counter",
        window_ms=duration_ms,
        wanted=stats,
    )
    out: dict[str, float | int | None] = {}
    for stat in stats:
        value = values.get(stat)
        out[stat.value] = bucket.count if stat is Stat.COUNT else value
    return out
