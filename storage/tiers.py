"""Rollup tiers: per-minute and per-hour aggregates beside the window rows.

Why: an hour of 10 s windows of one busy series is 360 window rows, each with ~10 pages of
histogram counts. The tiers keep them merged per series per minute / hour: count, sum, min and max
in ``rollups_1m`` / ``rollups_1h``, and the histogram pages, summed slot by slot, with each page's
total, in ``rollup_pages_1m_by_page`` / ``rollup_pages_1h_by_page`` (ordered by page before time, so
a query reads the granules of the pages holding its ranks). A long range reads a few tier rows and only its ragged
edges read window rows (:func:`plan`).

Filling: after each insert into ``rollups`` the sink copies the new rows into each tier table with
one ``INSERT ... SELECT`` per table (:func:`copy_sql`), selecting them by Kafka offset per
partition. A tier table remembers the highest offset it holds per partition, so after a crash
between the inserts the sink catches it up (:func:`tier_offsets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.client import Store

__all__ = ["TIERS", "Segment", "Tier", "TierFiller", "copy_sql", "plan", "tier_offsets"]


@dataclass(frozen=True)
class Tier:
    table: str  # count, sum, min, max per series and bucket
    pages: str  # histogram pages per series, bucket and page
    width_ms: int  # bucket width of the tier

    @property
    def tables(self) -> tuple[str, str]:
        return self.table, self.pages


TIERS = (
    Tier("rollups_1h", "rollup_pages_1h_by_page", 3_600_000),
    Tier("rollups_1m", "rollup_pages_1m_by_page", 60_000),
)  # coarsest first


@dataclass(frozen=True)
class Segment:
    """``[start_ms, end_ms)`` of a query answered from ``table`` (``rollups`` or a tier's) and, for
    percentiles, ``pages`` (``rollups`` too, whose rows carry their pages, or the tier's pages)."""

    table: str
    start_ms: int
    end_ms: int
    pages: str = "rollups"


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
    return [
        *_split(start_ms, first, finer),
        Segment(tier.table, first, last, tier.pages),
        *_split(last, end_ms, finer),
    ]


def copy_sql(tier: Tier, table: str, *, key_range: bool) -> str:
    """``INSERT ... SELECT`` copying into ``table``, one of ``tier``'s, the window rows of the
    partitions ``{partitions:Array(UInt16)}`` whose Kafka offsets lie in each one's range, from
    ``{first_offsets:Array(UInt64)}`` to ``{last_offsets:Array(UInt64)}`` (same order, inclusive).
    With ``key_range`` the read is also bounded by ``{names}``, ``{services}`` and ``[{first:Int64},
    {last:Int64}]`` (window starts, ms): the primary-key range of the rows just inserted, so the copy
    reads only those. One statement for every partition of a flush: ClickHouse plans each statement
    for milliseconds, which per partition and table had cost the sink more than the copy itself."""
    bounds = (
        "name IN {names:Array(String)} AND service IN {services:Array(String)}"
        " AND window_start >= fromUnixTimestamp64Milli({first:Int64})"
        " AND window_start <= fromUnixTimestamp64Milli({last:Int64}) AND "
        if key_range
        else ""
    )
    bucket = f"toStartOfInterval(window_start, toIntervalSecond({tier.width_ms // 1000})) AS bucket"
    where = f"""{bounds}src_partition IN {{partitions:Array(UInt16)}}
          AND kafka_offset >= {{first_offsets:Array(UInt64)}}[indexOf({{partitions:Array(UInt16)}}, src_partition)]
          AND kafka_offset <= {{last_offsets:Array(UInt64)}}[indexOf({{partitions:Array(UInt16)}}, src_partition)]"""
    if table == tier.pages:
        return f"""
            INSERT INTO {table} (name, service, labels, window_start, src_partition, page, total, counts, kafka_offset)
            SELECT name, service, labels, {bucket}, src_partition, page, sum(arraySum(counts)), sumForEachState(counts),
                   max(kafka_offset)
            FROM rollups ARRAY JOIN pages AS page, page_counts AS counts
            WHERE {where}
            GROUP BY name, service, labels, bucket, src_partition, page
        """
    return f"""
        INSERT INTO {table}
        SELECT name, service, kind, labels, {bucket}, src_partition, sum(count), sum(sum), min(min), max(max),
               max(kafka_offset)
        FROM rollups
        WHERE {where}
        GROUP BY name, service, kind, labels, bucket, src_partition
    """


def tier_offsets(store: Store, table: str) -> dict[int, int]:
    """Highest rollups-topic offset each partition has copied into the tier ``table``."""
    rows = store.rows(f"SELECT src_partition, max(kafka_offset) FROM {table} GROUP BY src_partition")
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
            for table in tier.tables:
                done = tier_offsets(self.store, table).get(partition, -1)
                if stored_upto is not None and done < stored_upto:
                    params = {"partitions": [partition], "first_offsets": [done + 1], "last_offsets": [stored_upto]}
                    self.store.command(copy_sql(tier, table, key_range=False), params)
                    done = stored_upto
                self._copied[(table, partition)] = done

    def copy(self, rows: dict[str, list[Any]]) -> None:
        """Copy the rows of one ``rollups`` insert (column name -> values) into every tier: one
        statement per tier table for all the insert's partitions."""
        last_offsets: dict[int, int] = {}
        for partition, offset in zip(rows["src_partition"], rows["kafka_offset"], strict=True):
            last_offsets[int(partition)] = max(int(offset), last_offsets.get(int(partition), -1))
        if not last_offsets:
            return
        partitions = sorted(last_offsets)
        params = {
            "partitions": partitions,
            "last_offsets": [last_offsets[p] for p in partitions],
            "names": sorted(set(rows["name"])),
            "services": sorted(set(rows["service"])),
            "first": min(rows["window_start"]),
            "last": max(rows["window_start"]),
        }
        for tier in TIERS:
            for table in tier.tables:
                first_offsets = [self._copied.get((table, p), -1) + 1 for p in partitions]
                self.store.command(copy_sql(tier, table, key_range=True), {**params, "first_offsets": first_offsets})
                for p in partitions:
                    self._copied[(table, p)] = last_offsets[p]
