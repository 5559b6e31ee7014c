"""Rollup tiers: which table serves which part of a range, filling after each insert, catching up
after a crash between the window insert and the tier copy, and answers equal to the window rows'."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import RollupBatch, RollupRow
from storage import MigrationParams, Store
from storage.migrate import load_migrations
from storage.queries import fetch_buckets
from storage.rows import RollupColumns, utc_months
from storage.tiers import TIERS, Segment, TierFiller, plan, tier_offsets
from tests.storage.builders import BASE_MS, HOUR_MS, insert_rows, nearest_month_end, window_row

MINUTE = 60_000


def month_of(ms: int) -> int:
    return int(utc_months(np.array([ms], dtype=np.int64))[0])


H, M = "rollup_pages_1h_by_page", "rollup_pages_1m_by_page"  # the pages tables of the tiers


def test_a_range_of_whole_hours_is_served_by_the_hour_tier() -> None:
    whole = Segment("rollups_1h", BASE_MS, BASE_MS + 2 * HOUR_MS, H)
    assert plan(BASE_MS, BASE_MS + 2 * HOUR_MS, None, 1_000) == [whole]


def test_ragged_ends_fall_to_minutes_then_windows() -> None:
    start, end = BASE_MS - 90_500, BASE_MS + HOUR_MS + 61_000
    assert plan(start, end, None, 1_000) == [
        Segment("rollups", start, BASE_MS - MINUTE),
        Segment("rollups_1m", BASE_MS - MINUTE, BASE_MS, M),
        Segment("rollups_1h", BASE_MS, BASE_MS + HOUR_MS, H),
        Segment("rollups_1m", BASE_MS + HOUR_MS, BASE_MS + HOUR_MS + MINUTE, M),
        Segment("rollups", BASE_MS + HOUR_MS + MINUTE, end),
    ]


def test_a_step_smaller_than_a_tier_bucket_keeps_the_finer_tables() -> None:
    assert plan(BASE_MS, BASE_MS + HOUR_MS, 10_000, 1_000) == [Segment("rollups", BASE_MS, BASE_MS + HOUR_MS)]
    assert plan(BASE_MS, BASE_MS + HOUR_MS, 5 * MINUTE, 1_000) == [Segment("rollups_1m", BASE_MS, BASE_MS + HOUR_MS, M)]


def test_a_tier_whose_width_is_not_a_multiple_of_the_window_is_not_used() -> None:
    # 7 s windows do not fill whole minutes (the settings refuse such windows; plan stays safe anyway).
    assert plan(BASE_MS, BASE_MS + HOUR_MS, None, 7_000) == [Segment("rollups", BASE_MS, BASE_MS + HOUR_MS)]


def spread_rows(seed: int, minutes: int = 90) -> list[RollupRow]:
    rng = np.random.default_rng(seed)
    return [
        window_row(rng.lognormal(3.0, 1.0, int(rng.integers(50, 3_000))), window_start_ms=BASE_MS + i * 10_000,
                   service=("gateway", "frontend")[i % 2])
        for i in range(minutes * 6)
    ]  # fmt: skip


def test_answers_from_tiers_equal_answers_from_window_rows(store: Store) -> None:
    insert_rows(store, spread_rows(1))
    start, end = BASE_MS, BASE_MS + 90 * MINUTE
    levels = [0.5, 0.95, 0.99]
    tiered = fetch_buckets(
        store, "http.server.duration", start, end, None, ["service"], {}, (), levels, window_ms=10_000
    )
    windows_only = fetch_buckets(
        store,
        "http.server.duration",
        start,
        end,
        None,
        ["service"],
        {},
        (),
        levels,
        window_ms=7_000,  # no tier fits
    )
    assert [(b.group, b.count, b.min, b.max) for b in tiered] == [
        (b.group, b.count, b.min, b.max) for b in windows_only
    ]
    for a, b in zip(tiered, windows_only, strict=True):
        assert a.sum == pytest.approx(b.sum, rel=1e-12)  # summed in another order
        assert a.quantiles == b.quantiles  # histograms merge exactly, whatever the grouping


def test_a_tier_missed_by_a_crash_is_caught_up_on_resume(store: Store) -> None:
    insert_rows(store, spread_rows(2, minutes=3), partition=1, tick=5)
    columns = RollupColumns()  # a second insert whose tier copy never ran (the sink died in between)
    columns.add(9, RollupBatch(1, 9, 0, [window_row([7.0, 8.0], window_start_ms=BASE_MS + 30_000)]))
    store.insert(*columns.take())
    tables = [table for tier in TIERS for table in tier.tables]
    month = month_of(BASE_MS)
    assert all(tier_offsets(store, table, 1) == {month: 5} for table in tables)
    TierFiller(store).resume(1, {month: 9})
    assert all(tier_offsets(store, table, 1) == {month: 9} for table in tables)
    for tier in TIERS:
        [(total,)] = store.rows(f"SELECT sum(count) FROM {tier.table}")
        [(expected,)] = store.rows("SELECT sum(count) FROM rollups")
        assert total == expected
        [(pages,)] = store.rows(f"SELECT sum(arraySum(c)) FROM (SELECT sumForEachMerge(counts) AS c FROM {tier.pages})")
        assert pages == expected
    TierFiller(store).resume(1, {month: 9})  # idempotent: nothing copied twice
    [(again,)] = store.rows("SELECT sum(count) FROM rollups_1m")
    assert again == expected


def test_pages_stored_before_the_page_ordered_tables_are_copied_into_them_once(store: Store) -> None:
    """Tier pages an older sink wrote into rollup_pages_1m / rollup_pages_1h (no totals) answer the
    same after migration 20261203183000 copies them; running its copies again adds nothing."""
    insert_rows(store, spread_rows(3, minutes=150))
    start, end = BASE_MS, BASE_MS + 150 * MINUTE  # served by the hour tier, then minutes
    levels = [0.5, 0.99]

    def answers() -> list[tuple[int, list[float]]]:
        buckets = fetch_buckets(store, "http.server.duration", start, end, None, [], {}, (), levels, window_ms=10_000)
        return [(b.count, b.quantiles) for b in buckets]

    expected = answers()
    for tier in TIERS:
        older = tier.pages.removesuffix("_by_page")
        store.command(f"INSERT INTO {older} SELECT name, service, labels, window_start, src_partition, page, counts, "
                      f"kafka_offset FROM {tier.pages}")  # fmt: skip
        store.command(f"TRUNCATE TABLE {tier.pages}")
    [migration] = [m for m in load_migrations() if m.name == "pages_by_page"]
    copies = [s for s in migration.render(MigrationParams()) if s.startswith("INSERT")]
    assert len(copies) == len(TIERS)
    for statement in copies * 2:
        store.command(statement)
    assert answers() == expected
    for tier in TIERS:  # each tier holds every stored observation, once
        [(total,)] = store.rows(f"SELECT sum(total) FROM {tier.pages}")
        assert total == expected[0][0]


def test_one_copy_of_an_insert_of_several_partitions_takes_each_partition_from_its_own_offset(store: Store) -> None:
    """The copy is one statement per tier table for all the partitions of an insert: partition 2's
    rows at offset 3 are copied although partition 1 already copied up to offset 5, and partition 1's
    rows at offsets up to 5 are not copied again."""
    filler = TierFiller(store)
    first = RollupColumns()
    first.add(5, RollupBatch(1, 5, 0, [window_row([1.0, 2.0], window_start_ms=BASE_MS)]))
    table, data, names = first.take()
    store.insert(table, data, names)
    filler.copy(dict(zip(names, data, strict=True)))
    both = RollupColumns()
    both.add(6, RollupBatch(1, 6, 0, [window_row([3.0], window_start_ms=BASE_MS + 10_000)]))
    both.add(3, RollupBatch(2, 3, 0, [window_row([4.0, 5.0, 6.0], window_start_ms=BASE_MS, service="orchestrator")]))
    table, data, names = both.take()
    store.insert(table, data, names)
    filler.copy(dict(zip(names, data, strict=True)))
    expected = store.rows("SELECT src_partition, sum(count) FROM rollups GROUP BY src_partition ORDER BY src_partition")
    assert expected == [(1, 3), (2, 3)]
    for tier in TIERS:
        got = store.rows(
            f"SELECT src_partition, sum(count) FROM {tier.table} GROUP BY src_partition ORDER BY src_partition"
        )
        assert got == expected, tier.table
        [(pages,)] = store.rows(f"SELECT sum(arraySum(c)) FROM (SELECT sumForEachMerge(counts) AS c FROM {tier.pages})")
        assert pages == 6, tier.pages
        month = month_of(BASE_MS)
        assert (tier_offsets(store, tier.table, 1), tier_offsets(store, tier.table, 2)) == ({month: 6}, {month: 3})


def test_a_month_missed_by_a_crash_between_the_months_of_a_flush_is_caught_up_on_resume(store: Store) -> None:
    """A flush across a month's end is copied a month at a time; killed after the later month's copy,
    the earlier month (its offsets below the highest copied) is still caught up on resume, once."""
    end = nearest_month_end(BASE_MS)
    before, after = end - 10_000, end  # the last window of a month and the first of the next
    insert_rows(store, [window_row([1.0], window_start_ms=before)], partition=1, tick=2)
    both = RollupColumns()
    both.add(3, RollupBatch(1, 3, 0, [window_row([2.0, 3.0], window_start_ms=before)]))
    both.add(4, RollupBatch(1, 4, 0, [window_row([4.0, 5.0, 6.0], window_start_ms=after)]))
    table, data, names = both.take()
    store.insert(table, data, names)  # both months stored (the sink inserts each, each a part)
    later = {name: [v for v, m in zip(values, data[names.index("window_start")], strict=True) if m >= end]
             for name, values in zip(names, data, strict=True)}  # fmt: skip
    filler = TierFiller(store)
    with pytest.raises(ValueError, match="a month at a time"):
        filler.copy(dict(zip(names, data, strict=True)))
    filler.copy(later)  # the later month copied; the sink died before the earlier month's copy
    tables = [table for tier in TIERS for table in tier.tables]
    assert all(tier_offsets(store, t, 1) == {month_of(before): 2, month_of(after): 4} for t in tables)
    TierFiller(store).resume(1, {month_of(before): 3, month_of(after): 4})
    TierFiller(store).resume(1, {month_of(before): 3, month_of(after): 4})  # again: nothing twice
    for tier in TIERS:
        got = store.rows(f"SELECT toYYYYMM(window_start) AS m, sum(count) FROM {tier.table} GROUP BY m ORDER BY m")
        assert got == [(month_of(before), 3), (month_of(after), 3)], tier.table
        [(pages,)] = store.rows(f"SELECT sum(arraySum(c)) FROM (SELECT sumForEachMerge(counts) AS c FROM {tier.pages})")
        assert pages == 6, tier.pages
