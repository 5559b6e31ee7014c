"""Read helpers over real stored rollups: buckets (grouping, filters, epoch-aligned steps, exact
aggregates, merged-histogram percentiles: the alert path's engine, within 0.1 % of exact), RED
summaries and the catalog of what exists."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from schemas import MetricKind, RollupRow
from schemas.sketch import ALPHA, PAGE_SLOTS, Histogram, answers, rank_keys
from schemas.stats import QUANTILES
from storage import Store
from storage.queries import fetch_buckets, list_metrics, list_services, red_by_service
from storage.tiers import plan
from stream.alerts import merge_rows
from tests.storage.builders import BASE_MS, insert_rows, window_row

END_MS = BASE_MS + 3_600_000
LEVELS = [0.5, 0.9, 0.95, 0.99, 0.999]


def test_one_bucket_per_group_over_the_range_with_exact_aggregates(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([1.0, 2.0, 3.0], window_start_ms=BASE_MS),
            window_row([10.0], window_start_ms=BASE_MS + 1_000),
            window_row([0.5, 7.0], window_start_ms=BASE_MS, service="frontend"),
            window_row([99.0], window_start_ms=BASE_MS, name="other.metric"),
        ],
    )
    buckets = fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, None, ["service"], {})
    assert [(b.group, b.t_ms, b.kind, b.count, b.sum, b.min, b.max) for b in buckets] == [
        ({"service": "frontend"}, BASE_MS, "distribution", 2, 7.5, 0.5, 7.0),
        ({"service": "gateway"}, BASE_MS, "distribution", 4, 16.0, 1.0, 10.0),
    ]
    assert all(b.quantiles == [] for b in buckets)  # none asked for


def test_no_grouping_gives_one_series(store: Store) -> None:
    insert_rows(store, [window_row([1.0]), window_row([2.0], service="frontend"), window_row([3.0], labels={"a": "b"})])
    [bucket] = fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, None, [], {})
    assert (bucket.group, bucket.count, bucket.sum) == ({}, 3, 6.0)


def test_grouping_by_a_label_and_service(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([1.0], labels={"route": "/a", "status_code": "200"}),
            window_row([2.0, 4.0], labels={"route": "/a", "status_code": "500"}),
            window_row([8.0], labels={"route": "/b"}),
            window_row([16.0], service="frontend", labels={"route": "/a"}),
        ],
    )
    buckets = fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, None, ["route"], {})
    assert {b.group["route"]: b.sum for b in buckets} == {"/a": 23.0, "/b": 8.0}
    buckets = fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, None, ["service", "status_code"], {})
    assert {(b.group["service"], b.group["status_code"]): b.count for b in buckets} == {
        ("frontend", ""): 1,  # a missing label groups as ""
        ("gateway", ""): 1,
        ("gateway", "200"): 1,
        ("gateway", "500"): 2,
    }


def test_label_filters_and_service_filter_narrow_the_rows(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([1.0], labels={"route": "/a", "status_code": "200"}),
            window_row([2.0], labels={"route": "/a", "status_code": "500"}),
            window_row([4.0], labels={"route": "/b", "status_code": "500"}),
            window_row([8.0], service="frontend", labels={"route": "/a", "status_code": "500"}),
        ],
    )
    only = fetch_buckets(
        store, "http.server.duration", BASE_MS, END_MS, None, [], {"route": "/a", "status_code": "500"}
    )
    assert [b.sum for b in only] == [10.0]
    only = fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, None, [], {"route": "/a"}, ["gateway"])
    assert [b.sum for b in only] == [3.0]
    assert fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, None, [], {"route": "/zzz"}) == []


def test_steps_give_epoch_aligned_buckets(store: Store) -> None:
    insert_rows(store, [window_row([float(i)], window_start_ms=BASE_MS + i * 1_000) for i in range(25)])
    # The range starts mid-bucket: buckets still start at multiples of the step, not at `start`.
    buckets = fetch_buckets(store, "http.server.duration", BASE_MS + 3_000, BASE_MS + 25_000, 10_000, [], {})
    assert [(b.t_ms - BASE_MS, b.count, b.min, b.max) for b in buckets] == [
        (0, 7, 3.0, 9.0),
        (10_000, 10, 10.0, 19.0),
        (20_000, 5, 20.0, 24.0),
    ]


def test_several_metrics_in_one_query_answer_each_as_if_alone(store: Store) -> None:
    rng = np.random.default_rng(7)
    names = ("m.a", "m.b", "m.c")
    insert_rows(
        store,
        [
            window_row(list(rng.lognormal(3, 1, 50)), window_start_ms=BASE_MS + w * 1_000, name=name,
                       service=service, labels={"route": f"/r{w % 3}", "status_code": "500" if w % 4 else "200"})
            for name in names for service in ("gateway", "frontend") for w in range(0, 30, 1 + names.index(name))
        ],
    )  # fmt: skip
    args = (BASE_MS + 2_000, BASE_MS + 28_000, 5_000, ["service", "route"], {}, ["gateway", "frontend"], LEVELS)
    together = fetch_buckets(store, (*names, "m.none"), *args, error_label="status_code")
    alone = [b for name in names for b in fetch_buckets(store, name, *args, error_label="status_code")]
    assert [b.metric for b in together] == [b.metric for b in alone] == sorted(b.metric for b in alone)
    assert together == alone and len({b.metric for b in alone}) == 3


def test_range_is_half_open_on_window_start(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([1.0], window_start_ms=BASE_MS - 1_000),
            window_row([2.0]),
            window_row([4.0], window_start_ms=BASE_MS + 9_000),
            window_row([8.0], window_start_ms=BASE_MS + 10_000),
        ],
    )
    [bucket] = fetch_buckets(store, "http.server.duration", BASE_MS, BASE_MS + 10_000, None, [], {})
    assert (bucket.t_ms, bucket.sum) == (BASE_MS, 6.0)


def test_late_correction_rows_count_in_their_window(store: Store) -> None:
    insert_rows(store, [window_row([1.0, 2.0])], tick=1)
    insert_rows(store, [window_row([100.0, 100.0], late=True)], tick=2)
    [bucket] = fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, 1_000, [], {}, (), [0.5, 0.99])
    assert (bucket.count, bucket.sum, bucket.max) == (4, 203.0, 100.0)
    assert bucket.quantiles[1] == 100.0  # the late values are part of the merged histogram


def test_counter_buckets_sum_increments(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([1.0, 2.0], name="reqs", kind=MetricKind.COUNTER),
            window_row([4.0], name="reqs", kind=MetricKind.COUNTER, window_start_ms=BASE_MS + 1_000),
        ],
    )
    [bucket] = fetch_buckets(store, "reqs", BASE_MS, END_MS, None, [], {})
    assert (bucket.kind, bucket.count, bucket.sum) == ("counter", 3, 7.0)
    [asked] = fetch_buckets(store, "reqs", BASE_MS, END_MS, None, [], {}, (), [0.5, 0.99])
    assert asked.count == 3 and all(math.isnan(q) for q in asked.quantiles)  # a counter has no histogram


def test_percentiles_of_a_single_value_and_of_zeros_are_that_value(store: Store) -> None:
    insert_rows(store, [window_row([42.0], name="one"), window_row([0.0, 0.0, 0.0], name="zeros")])
    [one] = fetch_buckets(store, "one", BASE_MS, END_MS, None, [], {}, (), LEVELS)
    [zeros] = fetch_buckets(store, "zeros", BASE_MS, END_MS, None, [], {}, (), LEVELS)
    assert one.quantiles == [42.0] * len(LEVELS)
    assert zeros.quantiles == [0.0] * len(LEVELS)


def test_percentiles_stay_within_the_exact_min_and_max(store: Store) -> None:
    rng = np.random.default_rng(5)
    windows = [rng.lognormal(2.0, 2.0, 5_000) for _ in range(4)]
    insert_rows(store, [window_row(v, window_start_ms=BASE_MS + i * 1_000) for i, v in enumerate(windows)])
    [bucket] = fetch_buckets(store, "http.server.duration", BASE_MS, END_MS, None, [], {}, (), [1e-6, 0.5, 1 - 1e-6])
    low, high = min(v.min() for v in windows), max(v.max() for v in windows)
    assert (bucket.min, bucket.max) == (low, high)
    assert all(low <= q <= high for q in bucket.quantiles)
    assert bucket.quantiles == sorted(bucket.quantiles)


# --- one engine: the SQL rank search, alert values, accuracy --------------------------------------

SEED = 20_261_127


def lognormal(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.lognormal(3.0, 1.0, n)


def pareto(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.pareto(1.5, n) + 1.0) * 10.0


def bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    fast = rng.random(n) < 0.8
    return np.where(fast, rng.normal(20.0, 3.0, n), rng.normal(400.0, 40.0, n))


DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "lognormal": lognormal,
    "pareto": pareto,
    "bimodal": bimodal,
}


@pytest.mark.parametrize("seed", range(4))
def test_the_stored_rank_search_finds_the_keys_numpy_finds(store: Store, seed: int) -> None:
    """Random histograms spread over pages (negative keys, gaps, page edges, big counts), each split
    over three window rows that a query reads from both ragged ends and the minute tier: every level's
    answer must be the value of :func:`schemas.sketch.rank_keys`'s key (extremes wide open)."""
    rng = np.random.default_rng(seed)
    levels = [0.0, 1e-6, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1 - 1e-9, 1.0]
    starts = [BASE_MS - 20_000, BASE_MS + 70_000, BASE_MS + 150_000]  # edge, minute tier, edge (10 s windows)
    rows, expected = [], {}
    for group in range(30):
        n = int(rng.integers(3, 400))
        keys = np.unique(rng.integers(-3 * PAGE_SLOTS, 20 * PAGE_SLOTS, n)).astype(np.int32)
        counts = rng.integers(1, 2**30, len(keys)) if group % 3 == 0 else rng.integers(1, 5, len(keys))
        expected[str(group)] = answers(rank_keys(Histogram(keys, counts.astype(np.int64)), levels), -1e18, 1e18)
        part = rng.integers(0, 3, len(keys))
        for i, start in enumerate(starts):
            mine = part == i
            if mine.any():
                rows.append(RollupRow("gateway", "m", MetricKind.DISTRIBUTION, {"g": str(group)}, start, 10_000,
                                      int(counts[mine].sum()), 0.0, -1e18, 1e18, keys[mine], counts[mine]))  # fmt: skip
    insert_rows(store, rows)
    start, end = BASE_MS - 30_000, BASE_MS + 160_000
    assert {s.table for s in plan(start, end, None, 10_000)} == {"rollups", "rollups_1m"}
    found = fetch_buckets(store, "m", start, end, None, ["g"], {}, (), levels, window_ms=10_000)
    assert {b.group["g"]: b.quantiles for b in found} == expected


@pytest.mark.parametrize("distribution", list(DISTRIBUTIONS))
def test_an_alert_reads_for_a_window_what_the_query_api_returns(store: Store, distribution: str) -> None:
    """The stream's alert path (rows merged by stream.alerts.merge_rows) and the API path
    (storage.queries.fetch_buckets) report the same float for every window, group and level."""
    rng = np.random.default_rng(SEED)
    windows: dict[int, list[RollupRow]] = {}
    for i in range(12):
        start = BASE_MS + i * 10_000
        windows[start] = [
            window_row(DISTRIBUTIONS[distribution](rng, int(rng.integers(1, 5_000))), window_start_ms=start,
                       window_ms=10_000, labels={"route": route})
            for route in ("/a", "/b", "/c")
        ]  # fmt: skip
    for partition, route in enumerate(("/a", "/b", "/c")):  # each route's rows from another partition
        insert_rows(store, [r for rows in windows.values() for r in rows if r.labels["route"] == route], partition)
    levels = list(QUANTILES.values())
    buckets = fetch_buckets(
        store, "http.server.duration", BASE_MS, BASE_MS + 120_000, 10_000, ["service"], {}, (), levels, window_ms=10_000
    )
    assert len(buckets) == len(windows)
    for bucket in buckets:
        alert = merge_rows(windows[bucket.t_ms])
        assert bucket.quantiles == [alert.quantile(q) for q in levels]
        assert (bucket.count, bucket.min, bucket.max) == (alert.count, alert.minimum, alert.maximum)


def test_merged_percentiles_are_within_a_tenth_of_a_percent_of_exact(store: Store) -> None:
    """1M values of each distribution over 400 windows of 10 s, each window's values split between two
    source partitions, merged by a query whose range the 1h tier, the 1m tier and window rows share:
    p50, p95, p99 within 0.1 % of numpy's exact percentiles (p99.9 within 0.15 %: numpy interpolates
    between order statistics, and in a sparse tail their gap adds to the engine's 0.08 %); counts
    exact, sums to the last bits of float rounding."""
    rng = np.random.default_rng(SEED)
    n_windows, per_window = 400, 2_500
    first = BASE_MS - 180_000  # 3 min before the hour: the 1m tier, then the 1h tier, then 1m and window rows
    end = first + n_windows * 10_000 - 20_000  # ends mid-minute: the last windows come from window rows
    levels = [0.5, 0.95, 0.99, 0.999]
    exact = {}
    for name, draw in DISTRIBUTIONS.items():
        values = draw(rng, n_windows * per_window)
        inside = []
        for partition in (1, 2):
            rows = []
            for i in range(n_windows):
                chunk = values[i * per_window : (i + 1) * per_window][partition - 1 :: 2]
                rows.append(window_row(chunk, name=name, window_start_ms=first + i * 10_000, window_ms=10_000))
                if first + i * 10_000 < end:
                    inside.append(chunk)
            insert_rows(store, rows, partition)
        exact[name] = np.concatenate(inside)
    assert [s.table for s in plan(first, end, None, 10_000)] == ["rollups_1m", "rollups_1h", "rollups_1m", "rollups"]
    errors = {}
    for name, every in exact.items():
        [bucket] = fetch_buckets(store, name, first, end, None, [], {}, (), levels, window_ms=10_000)
        assert bucket.count == len(every) >= 990_000
        assert bucket.sum == pytest.approx(math.fsum(every), rel=1e-12)
        want = np.percentile(every, [q * 100 for q in levels])
        errors[name] = [abs(got - w) / w for got, w in zip(bucket.quantiles, want, strict=True)]
    report = "; ".join(f"{n}: " + ", ".join(f"{e:.4%}" for e in errs) for n, errs in errors.items())
    bounds = [0.001, 0.001, 0.001, 0.0015]
    assert all(e <= b for errs in errors.values() for e, b in zip(errs, bounds, strict=True)), (
        f"relative errors p50/p95/p99/p99.9: {report}"
    )


def test_the_readme_sql_gives_the_percentile_the_api_gives(store: Store) -> None:
    """The plain SQL the README offers ClickHouse users (p95 over the last hour, from window rows)
    answers what fetch_buckets answers, to the last bits of ClickHouse's ``pow``."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("### Percentiles") :]
    sql = section[section.index("```sql") + len("```sql") : section.index("```", section.index("```sql") + 6)]
    now = time.time_ns() // 1_000_000
    start = (now - 1_800_000) // 10_000 * 10_000
    rng = np.random.default_rng(SEED)
    rows = [
        window_row(pareto(rng, 2_000), window_start_ms=start + i * 10_000, window_ms=10_000, service=f"s{i % 3}")
        for i in range(100)
    ]
    insert_rows(store, rows)
    [(from_sql,)] = store.rows(sql)
    [bucket] = fetch_buckets(
        store, "http.server.duration", now - 3_600_000, now + 60_000, None, [], {}, (), [0.95], window_ms=10_000
    )
    assert from_sql == pytest.approx(bucket.quantiles[0], rel=1e-12, abs=0)


# --- RED and catalog ------------------------------------------------------------------------------


def test_red_by_service_counts_requests_and_5xx_errors(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([10.0, 20.0, 30.0], labels={"status_code": "200"}),
            window_row([100.0], labels={"status_code": "503"}),
            window_row([5.0], labels={"status_code": "404"}),
            window_row([1.0, 2.0], service="frontend", labels={"status_code": "500"}),
            window_row([1_000.0], name="other"),
        ],
    )
    red = {r.service: r for r in red_by_service(store, "http.server.duration", "status_code", BASE_MS, END_MS, [0.5])}
    assert set(red) == {"gateway", "frontend"}
    assert (red["gateway"].requests, red["gateway"].errors) == (5, 1)
    assert (red["frontend"].requests, red["frontend"].errors) == (2, 2)
    assert red["gateway"].quantiles == [pytest.approx(20.0, rel=ALPHA)]


def test_list_metrics_describes_each_metric_in_the_range(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([1.0, 2.0], labels={"route": "/a"}),
            window_row([3.0], labels={"route": "/b"}, window_start_ms=BASE_MS + 5_000),
            window_row([4.0], service="frontend", labels={"route": "/a"}),
            window_row([1.0], name="reqs", kind=MetricKind.COUNTER),
            window_row([1.0], name="old", window_start_ms=BASE_MS - 1_000),
        ],
    )
    found = {m.name: m for m in list_metrics(store, BASE_MS, END_MS)}
    assert set(found) == {"http.server.duration", "reqs"}
    duration = found["http.server.duration"]
    assert (duration.kind, duration.services, duration.series, duration.points, duration.last_seen_ms) == (
        "distribution",
        ["frontend", "gateway"],
        3,
        4,
        BASE_MS + 5_000,
    )
    assert (found["reqs"].kind, found["reqs"].points) == ("counter", 1)


def test_list_services_counts_metrics_and_points(store: Store) -> None:
    insert_rows(
        store,
        [
            window_row([1.0, 2.0]),
            window_row([3.0], name="reqs", kind=MetricKind.COUNTER, window_start_ms=BASE_MS + 2_000),
            window_row([4.0], service="frontend"),
        ],
    )
    found = [(s.service, s.metrics, s.points, s.last_seen_ms) for s in list_services(store, BASE_MS, END_MS)]
    assert found == [("frontend", 1, 1, BASE_MS), ("gateway", 2, 3, BASE_MS + 2_000)]


def test_a_group_only_a_tiers_pages_table_holds_is_not_answered(store: Store) -> None:
    """The sink copies window rows into a tier's count table, then into its pages table: a query
    between the two copies sees pages whose counts are not there yet. That group is left out until
    its counts are stored, the others are answered as ever."""
    insert_rows(
        store, [window_row([10.0, 20.0, 30.0], window_start_ms=BASE_MS, labels={"route": "/a"}, window_ms=10_000)]
    )
    store.command(
        "INSERT INTO rollup_pages_1m_by_page (name, service, labels, window_start, src_partition, page, total, counts,"
        " kafka_offset) SELECT name, service, map('route', '/b'), window_start, src_partition, page, total, counts,"
        " kafka_offset FROM rollup_pages_1m_by_page"
    )
    start, end = BASE_MS, BASE_MS + 60_000
    assert {s.pages for s in plan(start, end, None, 10_000)} == {"rollup_pages_1m_by_page"}
    buckets = fetch_buckets(store, "http.server.duration", start, end, None, ["route"], {}, (), [0.5], window_ms=10_000)
    assert [(b.group, b.count, b.quantiles) for b in buckets] == [
        ({"route": "/a"}, 3, [pytest.approx(20.0, rel=ALPHA)])
    ]
