"""Rollup tiers: per-minute and per-hour t-digest states beside the window rows.

Why: a weighted quantile over stored centroids costs ClickHouse ~20 ns per centroid, and an hour of
10 s windows of one busy series holds ~360,000 of them. The tiers keep one merged digest state per
series per minute / hour, so a long range reads a few tier rows and only its ragged edges read
window rows (:func:`plan`).

Filling: after each insert into ``rollups`` the sink copies the new rows into each tier with one
``INSERT ... SELECT`` per tier and partition (:func:`copy_sql`), selecting them by Kafka offset.
A tier remembers the highest offset it holds per partition, so after a crash between the two
inserts the sink catches it up (:func:`tier_offsets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.client import Store

__all__ = ["TIERS", "Segment", "Tier", "TierFiller", "copy_sql", "plan", "tier_offsets"]


@dataclass(frozen=True)
class Tier:
    table: str
    width_ms: int  # bucket width of the tier


TIERS = (Tier("rollups_1h", 3_600_000), Tier("rollups_1m", 60_000))  # coarsest first


@dataclass(frozen=True)
class Segment:
    """``[start_ms, end_ms)`` of a query answered from ``table`` (``rollups`` or a tier)."""

    table: str
    start_ms: int
    end_ms: int


def plan(start_ms: int, end_ms: int, step_ms: int | None, window_ms: int) -> list[Segment]:
    """Split ``[start_ms, end_ms)`` into segments, each served by the coarsest usable table.

    A tier serves the whole buckets inside the range whose width divides ``step_ms`` (any width
    when there is no step) and is a multiple of the window; the ragged ends go to finer tables.
    """
    usable = [t for t in TIERS if t.width_ms % window_ms == 0 and (step_ms is None or step_ms % t.width_ms == 0)]
    return _split(start_ms, end_ms, usable)


def _split(start_ms: int, end_ms: int, tiers: list[Tier]) -> list[Segment]:
    if start_ms >= end_ms:
        return []
    if not tiers:
        return [Segment("rollups", start_ms, end_ms)]
    tier, finer = tiers[0], tiers[1:]
    first = -(-start_ms // tier.width_ms) * tier.width_ms
    last = end_ms // tier.width_ms * tier.width_ms
    if first >= last:
        return _split(start_ms, end_ms, finer)
    return [*_split(start_ms, first, finer), Segment(tier.table, first, last), *_split(last, end_ms, finer)]


def copy_sql(tier: Tier, *, key_range: bool) -> str:
    """``INSERT ... SELECT`` copying the window rows of one partition with Kafka offsets in
    ``[{first_offset:UInt64}, {last_offset:UInt64}]`` into ``tier``. With ``key_range`` the read is
    also bounded by ``{names}``, ``{services}`` and ``[{first:Int64}, {last:Int64}]`` (window
    starts, ms): the primary-key range of the rows just inserted, so the copy reads only those."""
    bounds = (
        "name IN {names:Array(String)} AND service IN {services:Array(String)}"
        " AND window_start >= fromUnixTimestamp64Milli({first:Int64})"
        " AND window_start <= fromUnixTimestamp64Milli({last:Int64}) AND "
        if key_range
        else ""
    )
    return f"""
        INSERT INTO {tier.table}
        SELECT name, service, kind, labels,
               toStartOfInterval(window_start, toIntervalSecond({tier.width_ms // 1000})) AS bucket,
               src_partition, sum(count), sum(sum), min(min), max(max),
               quantilesTDigestWeightedMergeState(0.5)(digest), max(kafka_offset)
        FROM rollups
        WHERE {bounds}src_partition = {{partition:UInt16}}
          AND kafka_offset >= {{first_offset:UInt64}} AND kafka_offset <= {{last_offset:UInt64}}
        GROUP BY name, service, kind, labels, bucket, src_partition
    """


def tier_offsets(store: Store, tier: Tier) -> dict[int, int]:
    """Highest rollups-topic offset each partition has copied into ``tier``."""
    rows = store.rows(f"SELECT src_partition, max(kafka_offset) FROM {tier.table} GROUP BY src_partition")
    return {int(partition): int(offset) for partition, offset in rows}


class TierFiller:
    """Copies window rows into every tier right after the sink inserted them into ``rollups``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._copied: dict[tuple[str, int], int] = {}  # (tier table, partition) -> highest offset copied

    def resume(self, partition: int, stored_upto: int | None) -> None:
        """On (re)assignment of a rollups partition: catch every tier up to ``stored_upto`` (the
        highest offset in ``rollups``), in case a crash fell between the two inserts."""
        for tier in TIERS:
            done = tier_offsets(self.store, tier).get(partition, -1)
            if stored_upto is not None and done < stored_upto:
                params = {"partition": partition, "first_offset": done + 1, "last_offset": stored_upto}
                self.store.command(copy_sql(tier, key_range=False), params)
                done = stored_upto
            self._copied[(tier.table, partition)] = done

    def copy(self, rows: dict[str, list[Any]]) -> None:
        """Copy the rows of one ``rollups`` insert (column name -> values) into every tier."""
        by_partition: dict[int, list[int]] = {}
        for index, partition in enumerate(rows["src_partition"]):
            by_partition.setdefault(int(partition), []).append(index)
        for partition, indexes in by_partition.items():
            offsets = [rows["kafka_offset"][i] for i in indexes]
            starts = [rows["window_start"][i] for i in indexes]
            params = {
                "partition": partition,
                "names": sorted({rows["name"][i] for i in indexes}),
                "services": sorted({rows["service"][i] for i in indexes}),
                "first": min(starts),
                "last": max(starts),
                "last_offset": max(offsets),
            }
            for tier in TIERS:
                first_offset = self._copied.get((tier.table, partition), -1) + 1
                self.store.command(copy_sql(tier, key_range=True), {**params, "first_offset": first_offset})
                self._copied[(tier.table, partition)] = params["last_offset"]
