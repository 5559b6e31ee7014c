"""Rollup tiers: per-minute and per-hour aggregates beside the window rows.

Why: an hour of 10 s windows of one busy series is 360 window rows, each with ~10 pages of
histogram counts. The tiers keep them merged per series per minute / hour: count, sum, min and max
in ``rollups_1m`` / ``rollups_1h``, and the histogram pages, summed slot by slot, with each page's
total, in ``rollup_pages_1m_by_page`` / ``rollup_pages_1h_by_page`` (ordered by page before time, so
a query reads the granules of the pages holding its ranks). A long range reads a few tier rows and only its ragged
edges read window rows (:func:`plan`).

Filling: after each insert into ``rollups`` (one month: the sink inserts that table a month
partition at a time) the sink copies the new rows into each tier table with one ``INSERT ... SELECT``
per table (:func:`copy_sql`), selecting them by month and by Kafka offset per partition. Each copy is
one month, so one part of its tier table (a tier's partition is a month or a year, never less), all
or nothing. A tier table remembers the highest offset it holds per partition and month, so after a
crash between the inserts the sink catches each month up (:func:`tier_offsets`,
:meth:`TierFiller.resume`). A highest offset per partition alone would not do: a crash between the
two months of a flush across a month's end would leave the first month's rows past the second's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from storage.client import Store
from storage.rows import utc_months

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
    """``INSERT ... SELECT`` copying into ``table``, one of ``tier``'s, the window rows of the month
    ``{month:UInt32}`` (``toYYYYMM``) of the partitions ``{partitions:Array(UInt16)}`` whose Kafka
    offsets lie in each one's range, from ``{first_offsets:Array(UInt64)}`` to
    ``{last_offsets:Array(UInt64)}`` (same order, inclusive). With ``key_range`` the read is also
    bounded by ``{names}``, ``{services}`` and ``[{first:Int64}, {last:Int64}]`` (window starts, ms):
    the primary-key range of the rows just inserted, so the copy reads only those. One statement for
    every partition of a flush: ClickHouse plans each statement for milliseconds, which per partition
    and table had cost the sink more than the copy itself."""
    bounds = (
        "name IN {names:Array(String)} AND service IN {services:Array(String)}"
        " AND window_start >= fromUnixTimestamp64Milli({first:Int64})"
        " AND window_start <= fromUnixTimestamp64Milli({last:Int64}) AND "
        if key_range
        else ""
    )
    bucket = f"toStartOfInterval(window_start, toIntervalSecond({tier.width_ms // 1000})) AS bucket"
    where = f"""{bounds}toYYYYMM(window_start) = {{month:UInt32}} AND src_partition IN {{partitions:Array(UInt16)}}
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


def tier_offsets(store: Store, table: str, partition: int) -> dict[int, int]:
    """Highest rollups-topic offset ``partition`` has copied into the tier ``table``, per month
    (``toYYYYMM`` of the window rows: an hour or a minute never spans two months)."""
    rows = store.rows(
        f"SELECT toYYYYMM(window_start) AS month, max(kafka_offset) FROM {table} "
        "WHERE src_partition = {p:UInt16} GROUP BY month",
        {"p": partition},
    )
    return {int(month): int(offset) for month, offset in rows}


class TierFiller:
    """Copies window rows into every tier right after the sink inserted them into ``rollups``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def resume(self, partition: int, stored: Mapping[int, int]) -> None:
        """On (re)assignment of a rollups partition: catch every tier up, month by month, to
        ``stored`` (per month, the highest offset of ``partition`` in ``rollups``), in case a crash
        fell between the inserts."""
        for tier in TIERS:
            for table in tier.tables:
                done = tier_offsets(self.store, table, partition)
                for month, upto in sorted(stored.items()):
                    first = done.get(month, -1) + 1
                    if first <= upto:
                        params = {"partitions": [partition], "first_offsets": [first], "last_offsets": [upto]}
                        self.store.command(copy_sql(tier, table, key_range=False), {**params, "month": month})

    def copy(self, rows: dict[str, list[Any]]) -> None:
        """Copy the rows of one ``rollups`` insert (column name -> values), all of one month and each
        past what its partition had stored of that month, into every tier: one statement per tier
        table for all the insert's partitions, each partition from its lowest offset here."""
        offsets: dict[int, tuple[int, int]] = {}
        for partition, offset in zip(rows["src_partition"], rows["kafka_offset"], strict=True):
            low, high = offsets.get(int(partition), (int(offset), int(offset)))
            offsets[int(partition)] = (min(low, int(offset)), max(high, int(offset)))
        if not offsets:
            return
        months = utc_months(np.array([min(rows["window_start"]), max(rows["window_start"])], dtype=np.int64))
        if months[0] != months[1]:
            raise ValueError(f"cannot copy rows of months {months[0]} to {months[1]} at once: insert a month at a time")
        partitions = sorted(offsets)
        params = {
            "month": int(months[0]),
            "partitions": partitions,
            "first_offsets": [offsets[p][0] for p in partitions],
            "last_offsets": [offsets[p][1] for p in partitions],
            "names": sorted(set(rows["name"])),
            "services": sorted(set(rows["service"])),
            "first": min(rows["window_start"]),
            "last": max(rows["window_start"]),
        }
        for tier in TIERS:
            for table in tier.tables:
                self.store.command(copy_sql(tier, table, key_range=True), params)
