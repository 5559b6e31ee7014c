"""Realistic rollup rows for storage and API tests: built by the stream stage's own aggregate, stored
through the sink's own column buffer."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from schemas import MetricKind, RollupBatch, RollupRow
from storage import Store
from storage.rows import RollupColumns, utc_months
from storage.tiers import TierFiller
from stream.aggregate import SeriesAggregate

HOUR_MS = 3_600_000
# An hour-aligned epoch ms about two hours ago: recent enough for every table's TTL (rows past their
# TTL vanish at insert), aligned for any step that divides an hour.
BASE_MS = (time.time_ns() // 1_000_000 // HOUR_MS - 2) * HOUR_MS


def nearest_month_end(ms: int) -> int:
    """The month boundary (UTC, epoch ms) nearest ``ms``: rows on either side of it stay well inside
    every table's TTL."""
    month = np.datetime64(ms, "ms").astype("datetime64[M]")
    ends = [int((month + k).astype("datetime64[ms]").astype(np.int64)) for k in (0, 1)]
    return min(ends, key=lambda end: abs(end - ms))


def window_row(
    values: Sequence[float] | np.ndarray,
    *,
    window_start_ms: int = BASE_MS,
    name: str = "http.server.duration",
    service: str = "gateway",
    kind: MetricKind = MetricKind.DISTRIBUTION,
    labels: Mapping[str, str] | None = None,
    window_ms: int = 1_000,
    late: bool = False,
) -> RollupRow:
    """The row the stream stage emits for ``values`` sent into one window of one series (folded in
    by records of at most 2,000 points, as ingest sends them)."""
    aggregate = SeriesAggregate(kind)
    array = np.asarray(values, dtype=np.float64)
    for start in range(0, len(array), 2_000):
        aggregate.add(array[start : start + 2_000])
    key = (service, name, kind, tuple(sorted((labels or {}).items())))
    return aggregate.to_row(key, window_start_ms, window_ms, late)


# Rows seeded straight into a store claim this Kafka partition, which no test topic has (4 partitions;
# rollups 8): a sink running on the store trusts stored positions, and rows claiming a position in its
# topics that Kafka never held would read as a store filled from other topics (storage.sink).
SEEDED_PARTITION = 1_000


def insert_rows(store: Store, rows: Iterable[RollupRow], partition: int = SEEDED_PARTITION, tick: int = 0) -> None:
    """Insert rows as the sink would (a month at a time: one insert, then the copy into the tiers), as
    if emitted at ``tick`` of ``partition``."""
    by_month: dict[int, list[RollupRow]] = {}
    for row in rows:
        month = int(utc_months(np.array([row.window_start_ms], dtype=np.int64))[0])
        by_month.setdefault(month, []).append(row)
    for month in sorted(by_month):
        columns = RollupColumns()
        columns.add(tick, RollupBatch(partition, tick, 0, by_month[month]))
        table, data, names = columns.take()
        store.insert(table, data, names)
        TierFiller(store).copy(dict(zip(names, data, strict=True)))
