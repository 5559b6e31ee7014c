"""``python -m bench.servicehealth``: what a health score and a canary verdict cost when not cached,
over an hour of 10 s windows in an embedded store (chDB), as migrated.

Not a unit test: it stores one hour of ``http.server.duration`` of one service as the sink would
(rows built by the stream stage's aggregate, copied into the tiers): 10 instances x 2 versions,
100 observations per series and window (1,440,000 observations, 7,200 window rows), then times
the storage reads behind each answer, as the routes make them on a cache miss:

- health of the service and of its 10 instances over the last 5 minutes (``fetch_buckets``, grouped by
  ``instance`` for the instances);
- a canary verdict (both label samples, read one after the other, and the statistics) over the last
  15 minutes and over the whole hour.

Prints ``RESULT health_service_p50_ms=... health_instances_p50_ms=... canary_15m_p50_ms=...
canary_1h_p50_ms=...`` and the slowest of the 5 runs of each (``_max_ms``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

from api.canary_stats import CanaryPolicy, verdict
from api.catalog import RED_LEVELS, REQUEST_METRIC, STATUS_LABEL
from schemas import MetricKind, RollupBatch
from storage import apply_migrations, open_store
from storage.canary import label_sample
from storage.client import Store
from storage.queries import fetch_buckets
from storage.rows import RollupColumns
from storage.tiers import TierFiller
from stream.aggregate import SeriesAggregate

WINDOW_MS = 10_000
HOUR_MS = 3_600_000
INSTANCES = 10
PER_WINDOW = 100
RUNS = 5


def load(store: Store, end_ms: int) -> None:
    """An hour of windows ending at ``end_ms``, one insert per minute of windows (as the sink batches)."""
    rng = np.random.default_rng(5)
    start_ms = end_ms - HOUR_MS
    for minute in range(60):
        columns = RollupColumns()
        rows = []
        for w in range(60_000 // WINDOW_MS):
            window_start = start_ms + minute * 60_000 + w * WINDOW_MS
            for instance in range(INSTANCES):
                for version, scale in (("1.4", 1.0), ("1.5", 1.1)):
                    aggregate = SeriesAggregate(MetricKind.DISTRIBUTION)
                    aggregate.add(rng.lognormal(3.5, 0.6, PER_WINDOW) * scale)
                    labels = (("instance", f"10.0.0.{instance}:8080"), ("status_code", "200"), ("version", version))
                    key = ("checkout", REQUEST_METRIC, MetricKind.DISTRIBUTION, labels)
                    rows.append(aggregate.to_row(key, window_start, WINDOW_MS, False))
        columns.add(minute, RollupBatch(0, minute, 0, rows))
        table, data, names = columns.take()
        store.insert(table, data, names)
        TierFiller(store).copy(dict(zip(names, data, strict=True)))


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Median and slowest of ``RUNS`` calls, milliseconds (after one warm-up call)."""
    call()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[-1]


def main() -> None:
    end_ms = time.time_ns() // 1_000_000 // WINDOW_MS * WINDOW_MS
    with tempfile.TemporaryDirectory() as data_dir:
        store = open_store(f"chdb://{data_dir}/ch")
        try:
            apply_migrations(store)
            started = time.perf_counter()
            load(store, end_ms)
            print(f"loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)

            def health(group_by: list[str]) -> Callable[[], object]:
                return lambda: fetch_buckets(
                    store, REQUEST_METRIC, end_ms - 300_000, end_ms, None, group_by, {}, ["checkout"], RED_LEVELS,
                    window_ms=WINDOW_MS, error_label=STATUS_LABEL,
                )  # fmt: skip

            def canary(span_ms: int) -> Callable[[], object]:
                def run() -> object:
                    base, cand = (
                        label_sample(store, REQUEST_METRIC, {"version": v}, end_ms - span_ms, end_ms,
                                     services=["checkout"], error_label=STATUS_LABEL, window_ms=WINDOW_MS)
                        for v in ("1.4", "1.5")
                    )  # fmt: skip
                    return verdict(base, cand, CanaryPolicy())

                return run

            calls = {
                "health_service": health([]),
                "health_instances": health(["instance"]),
                "canary_15m": canary(900_000),
                "canary_1h": canary(HOUR_MS),
            }
            figures = {}
            for name, call in calls.items():
                figures[name] = timed(call)
                print(f"{name}: p50 {figures[name][0]:.1f} ms, max {figures[name][1]:.1f} ms", file=sys.stderr)
        finally:
            store.close()
    print("RESULT " + " ".join(f"{n}_p50_ms={a:.1f} {n}_max_ms={b:.1f}" for n, (a, b) in figures.items()))


if __name__ == "__main__":
    main()
