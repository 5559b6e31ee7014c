"""``python -m bench accuracy`` (or ``python -m bench.accuracy``, which needs no Kafka): merged percentile
error against numpy's exact percentiles, before and after the histogram engine.

For each distribution (lognormal, Pareto(1.5), bimodal) 1M values fall into 400 windows of 10 s
(traffic varies: window sizes from a few hundred to tens of thousands of values, 2,500 on average),
each window's values split between two source partitions, folded as the stream stage folds them
(records of 2,000 points). *After*: the window rows stored in chDB through the sink's column buffer
and tier copy, and one query over a range that the 1m tier, the 1h tier and window rows share
(storage.queries.fetch_buckets). *Before*: what perfpulse did until this engine, computed here only:
each window kept a 1,000-centroid t-digest (fastdigest), stored as centroids; ClickHouse turned them
into weighted t-digest states, the tiers merged those per minute / hour and partition, and the query
merged the states of its segments (``quantilesTDigestWeightedMerge``, clamped to the exact extremes).
Repeated for :data:`SEEDS` data sets; prints the worst relative error of each (distribution, level)
as a table distribution x level x error, and ``RESULT name=value ...`` (errors in percent).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
from fastdigest import TDigest
from rich.console import Console
from rich.table import Table

from schemas import MetricKind, RollupBatch
from storage import Store, apply_migrations, open_store
from storage.queries import fetch_buckets
from storage.rows import RollupColumns
from storage.tiers import TierFiller, plan
from stream.aggregate import SeriesAggregate

__all__ = ["main", "run"]

WINDOWS = 400
PER_WINDOW = 2_500  # values per window, 1M per distribution
WINDOW_MS = 10_000
RECORD_POINTS = 2_000  # points per Kafka record, as ingest packs them
LEVELS = (0.5, 0.95, 0.99, 0.999)
FORMER_CENTROIDS = 1_000  # the stream stage's former t-digest size per window
HOUR_MS = 3_600_000
SEEDS = range(5)

DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "lognormal": lambda rng, n: rng.lognormal(3.0, 1.0, n),
    "pareto": lambda rng, n: (rng.pareto(1.5, n) + 1.0) * 10.0,
    "bimodal": lambda rng, n: np.where(rng.random(n) < 0.8, rng.normal(20.0, 3.0, n), rng.normal(400.0, 40.0, n)),
}


def _windows(rng: np.random.Generator, values: np.ndarray) -> list[list[np.ndarray]]:
    """Per window, the values of each of the two source partitions; window sizes vary as traffic does."""
    shares = rng.lognormal(0.0, 1.0, WINDOWS)
    ends = np.rint(np.cumsum(shares) / shares.sum() * len(values)).astype(np.int64)
    chunks = np.split(values, ends[:-1])
    return [[chunk[0::2], chunk[1::2]] for chunk in chunks]


def _after(store: Store, name: str, windows: list[list[np.ndarray]], first_ms: int, end_ms: int) -> list[float]:
    for partition in (0, 1):
        rows = []
        for i, parts in enumerate(windows):
            aggregate = SeriesAggregate(MetricKind.DISTRIBUTION)
            values = parts[partition]
            for start in range(0, len(values), RECORD_POINTS):
                aggregate.add(values[start : start + RECORD_POINTS])
            key = ("bench", name, MetricKind.DISTRIBUTION, ())
            rows.append(aggregate.to_row(key, first_ms + i * WINDOW_MS, WINDOW_MS, False))
        columns = RollupColumns()
        columns.add(partition, RollupBatch(partition, 0, 0, rows))
        table, data, names = columns.take()
        store.insert(table, data, names)
        TierFiller(store).copy(dict(zip(names, data, strict=True)))
    [bucket] = fetch_buckets(store, name, first_ms, end_ms, None, [], {}, (), LEVELS, window_ms=WINDOW_MS)
    return bucket.quantiles


def _before(store: Store, windows: list[list[np.ndarray]], first_ms: int, end_ms: int) -> list[float]:
    means: list[list[float]] = []
    weights: list[list[int]] = []
    starts: list[int] = []
    partitions: list[int] = []
    for i, parts in enumerate(windows):
        for partition, values in enumerate(parts):
            starts.append(first_ms + i * WINDOW_MS)
            partitions.append(partition)
            digest = TDigest(max_centroids=FORMER_CENTROIDS)
            for start in range(0, len(values), RECORD_POINTS):
                # fastdigest reads any float64 buffer; its stubs only name Sequence[float].
                digest.batch_update(cast("Sequence[float]", values[start : start + RECORD_POINTS]))
            centroids = np.asarray(digest.centroids, dtype=np.float64).reshape(-1, 2)
            means.append(centroids[:, 0].tolist())
            weights.append(np.rint(centroids[:, 1]).astype(np.uint32).tolist())
    store.command("DROP TABLE IF EXISTS former_digests")
    store.command(
        "CREATE TABLE former_digests (start Int64, partition UInt8, means Array(Float64), weights Array(UInt32))"
        " ENGINE = Memory"
    )
    store.insert("former_digests", [starts, partitions, means, weights], ["start", "partition", "means", "weights"])
    state = "arrayReduce('quantilesTDigestWeightedState(0.5)', means, weights)"
    selects = []
    for segment in plan(first_ms, end_ms, None, WINDOW_MS):
        where = f"start >= {segment.start_ms} AND start < {segment.end_ms}"
        if segment.table == "rollups":  # window rows: their own states
            selects.append(f"SELECT {state} AS s FROM former_digests WHERE {where}")
        else:  # a tier: states merged per bucket and partition
            width = HOUR_MS if segment.table.endswith("1h") else 60_000
            selects.append(
                f"SELECT quantilesTDigestWeightedMergeState(0.5)({state}) AS s FROM former_digests WHERE {where}"
                f" GROUP BY intDiv(start, {width}), partition"
            )
    levels = ", ".join(repr(q) for q in LEVELS)
    [(found,)] = store.rows(f"SELECT quantilesTDigestWeightedMerge({levels})(s) FROM ({' UNION ALL '.join(selects)})")
    return [float(q) for q in found]


def measure(seed: int) -> dict[tuple[str, float], tuple[float, float]]:
    """(distribution, level) -> (relative error before, after)."""
    rng = np.random.default_rng(seed)
    # 3 min before an hour two hours ago (within every table's TTL): the range is served by the 1m
    # tier, the 1h tier, the 1m tier again and window rows.
    first_ms = (time.time_ns() // 1_000_000 // HOUR_MS - 2) * HOUR_MS - 180_000
    end_ms = first_ms + WINDOWS * WINDOW_MS - 20_000  # the last windows come from window rows
    inside = (end_ms - first_ms + WINDOW_MS - 1) // WINDOW_MS
    out = {}
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"chdb://{directory}/ch")
        try:
            apply_migrations(store)
            for name, draw in DISTRIBUTIONS.items():
                windows = _windows(rng, draw(rng, WINDOWS * PER_WINDOW))
                every = np.concatenate([v for parts in windows[:inside] for v in parts])
                exact = np.percentile(every, [q * 100 for q in LEVELS])
                low, high = float(every.min()), float(every.max())
                before = [min(high, max(low, q)) for q in _before(store, windows, first_ms, end_ms)]
                after = _after(store, name, windows, first_ms, end_ms)
                for level, want, old, new in zip(LEVELS, exact, before, after, strict=True):
                    out[(name, level)] = (abs(old - want) / want, abs(new - want) / want)
        finally:
            store.close()
    return out


def run(figures: dict[str, float]) -> None:
    """Measure, print the table, and add ``accuracy_<distribution>_p<level>_{before,after}_pct``
    (the worst over :data:`SEEDS`)."""
    errors: dict[tuple[str, float], tuple[float, float]] = {}
    for seed in SEEDS:
        for key, (before, after) in measure(seed).items():
            worst = errors.get(key, (0.0, 0.0))
            errors[key] = (max(worst[0], before), max(worst[1], after))
    table = Table("distribution", "level", "worst error before (t-digest)", "worst error after (histogram)")
    for (name, level), (before, after) in errors.items():
        label = f"p{level * 100:g}"
        table.add_row(name, label, f"{before:.4%}", f"{after:.4%}")
        figures[f"accuracy_{name}_{label}_before_pct"] = before * 100
        figures[f"accuracy_{name}_{label}_after_pct"] = after * 100
    Console().print(table)


def main() -> None:
    figures: dict[str, float] = {}
    run(figures)
    print("RESULT " + " ".join(f"{k}={v:.4f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
