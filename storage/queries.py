"""Read helpers over the rollups: buckets of merged windows, RED summaries, what exists.

A query groups window rows into buckets (``step`` milliseconds, aligned to the epoch) and series
groups. Count, sum and extremes are summed / taken over the rows. Percentiles come from merging the
rows' histograms (schemas/sketch.py), never from averaging stored percentiles: window rows and the
pages tiers hold them as pages of dense slot counts (storage/tiers.py); a query collects a group's
pages per bucket and finds in SQL, per level, the page and the slot holding the rank (a cumulative
sum over the page totals, then one inside the page that holds the rank, its rows summed slot by
slot), so only integer keys come back. Python turns them into values with
:func:`schemas.sketch.answers`, the function the alert path uses: alerts and queries report the
same float for the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.sketch import PAGE_SLOTS, answers
from storage.client import API_QUERY_SETTINGS, QueryLimitExceeded, Store
from storage.tiers import Segment, plan

__all__ = [
    "MAX_POINTS",
    "MAX_SERIES",
    "Bucket",
    "MetricInfo",
    "SeriesQuery",
    "ServiceInfo",
    "ServiceRed",
    "fetch_buckets",
    "list_metrics",
    "list_services",
    "pages_sql",
    "rank_keys_sql",
    "red_by_service",
]


MAX_SERIES = 1_000  # groups one query may answer
MAX_POINTS = 1_000_000  # buckets one query may answer, over all its groups (~100 MB of JSON at most)


@dataclass(slots=True)
class Bucket:
    """The merged windows of one group in one time bucket."""

    group: dict[str, str]  # group_by dimension -> value
    t_ms: int  # bucket start, epoch ms
    kind: str  # distribution, counter or gauge
    count: int
    sum: float
    min: float
    max: float
    quantiles: list[float]  # at the requested levels, from the merged histogram (NaN without one)
    errors: int = 0  # observations whose error label starts with 5 (when asked for)


@dataclass(frozen=True)
class SeriesQuery:
    """One question over a metric; turned into SQL by :func:`_sql`."""

    metric: str
    group_by: Sequence[str]
    label_filters: Mapping[str, str]
    services: Sequence[str]
    step_ms: int | None
    start_ms: int
    levels: Sequence[float]
    error_label: str | None

    @property
    def keys(self) -> str:
        """The grouping columns of every part of the query: the groups, then the bucket ``t``."""
        return ", ".join([*(f"g{i}" for i in range(len(self.group_by))), "t"])


def _select_where(segment: Segment, query: SeriesQuery, params: dict[str, Any], index: int) -> tuple[str, str]:
    """The group and bucket columns of one segment, and its WHERE clause."""
    groups = []
    for i, dimension in enumerate(query.group_by):
        if dimension == "service":
            groups.append(f"service AS g{i}")
        else:
            params[f"g{i}"] = dimension
            groups.append(f"labels[{{g{i}:String}}] AS g{i}")
    if query.step_ms:
        bucket = "intDiv(toUnixTimestamp64Milli(window_start), {step:Int64}) * {step:Int64}"
    else:
        bucket = "{start:Int64}"
    params[f"s{index}"], params[f"e{index}"] = segment.start_ms, segment.end_ms
    where = [
        "name = {metric:String}",
        f"window_start >= fromUnixTimestamp64Milli({{s{index}:Int64}})",
        f"window_start < fromUnixTimestamp64Milli({{e{index}:Int64}})",
    ]
    if query.services:
        where.append("service IN {services:Array(String)}")
    for i in range(len(query.label_filters)):
        where.append(f"labels[{{fk{i}:String}}] = {{fv{i}:String}}")
    return ", ".join([*groups, f"{bucket} AS t"]), " AND ".join(where)


def _scalars_sql(segment: Segment, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """Count, sum, extremes (and errors) of one segment per group and bucket."""
    columns, where = _select_where(segment, query, params, index)
    errors = "sumIf(count, startsWith(labels[{status:String}], '5'))" if query.error_label else "0"
    return f"""
        SELECT {columns}, any(kind) AS kind, sum(count) AS c, sum(sum) AS s, min(min) AS lo, max(max) AS hi,
               {errors} AS err
        FROM {segment.table}
        WHERE {where}
        GROUP BY {query.keys}
    """


def pages_sql(segment: Segment, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """The histogram pages of one segment per group and bucket (columns ``page``, ``pc``): a tier's
    summed per page (``sumForEachMerge``), window rows' as they are, a page in as many rows as
    windows hold it (:func:`rank_keys_sql` adds up only the page that holds a rank: summing every
    page of window rows first cost ~7 us per page row, most of a short-step query)."""
    columns, where = _select_where(segment, query, params, index)
    if segment.pages == "rollups":
        return f"""
            SELECT {columns}, page, counts AS pc
            FROM rollups ARRAY JOIN pages AS page, page_counts AS counts
            WHERE {where}
        """
    return f"""
        SELECT {columns}, page, sumForEachMerge(counts) AS pc
        FROM {segment.pages}
        WHERE {where}
        GROUP BY {query.keys}, page
    """


def rank_keys_sql(pages: str, keys: str, levels: Sequence[float]) -> str:
    """Per ``keys`` group of the rows of ``pages`` (columns ``keys``, ``page`` Int32 and ``pc`` that
    page's slot counts; a page may come in several rows), the histogram key holding the rank of each
    level, as ``qk``.

    The rank is ``max(ceil(q * n), 1) - 1`` in Float64, as :func:`schemas.sketch.ranks` computes it; the
    search is :func:`schemas.sketch.rank_keys`'s: the first key whose cumulative count exceeds it,
    found first among the page rows' totals (sorted by page), then inside the one page that holds it,
    its rows summed slot by slot."""
    found = []
    for j, q in enumerate(levels):
        rank = f"toUInt64(greatest(ceil({float(q)!r} * n), 1) - 1)"
        page = f"pg[arrayFirstIndex(c -> c > r{j}, cum)]"
        before = f"arraySum(arrayFilter((c, p) -> p < p{j}, totals, pg))"
        merged = f"arrayReduce('sumForEach', arrayMap(e -> e.2, arrayFilter(e -> e.1 = p{j}, es)))"
        slot = f"arrayFirstIndex(c -> c > r{j} - {before}, arrayCumSum({merged})) - 1"
        found.append(f"{rank} AS r{j}, {page} AS p{j}, p{j} * {PAGE_SLOTS} + {slot} AS k{j}")
    return f"""
        SELECT {keys}, {", ".join(found)}, [{", ".join(f"k{j}" for j in range(len(levels)))}] AS qk
        FROM (
            SELECT {keys}, arraySort(e -> e.1, groupArray((page, pc))) AS es, arrayMap(e -> e.1, es) AS pg,
                   arrayMap(e -> arraySum(e.2), es) AS totals, arrayCumSum(totals) AS cum,
                   toFloat64(arraySum(totals)) AS n
            FROM ({pages})
            GROUP BY {keys}
        )
    """


def _sql(query: SeriesQuery, segments: list[Segment], params: dict[str, Any]) -> str:
    params.update(metric=query.metric, start=query.start_ms)
    if query.step_ms:
        params["step"] = query.step_ms
    if query.services:
        params["services"] = list(query.services)
    if query.error_label:
        params["status"] = query.error_label
    for i, (key, value) in enumerate(sorted(query.label_filters.items())):
        params[f"fk{i}"], params[f"fv{i}"] = key, value
    keys = query.keys
    if len(segments) == 1:
        scalars = _scalars_sql(segments[0], query, params, 0)
    else:
        parts = " UNION ALL ".join(_scalars_sql(segment, query, params, i) for i, segment in enumerate(segments))
        scalars = f"""
            SELECT {keys}, any(kind) AS kind, sum(c) AS c, sum(s) AS s, min(lo) AS lo, max(hi) AS hi, sum(err) AS err
            FROM ({parts})
            GROUP BY {keys}
        """
    if not query.levels:
        return f"SELECT {keys}, kind, c, s, lo, hi, err, [] FROM ({scalars}) ORDER BY {keys}"
    pages = " UNION ALL ".join(pages_sql(segment, query, params, i) for i, segment in enumerate(segments))
    return f"""
        SELECT {keys}, kind, c, s, lo, hi, err, qk
        FROM ({scalars}) AS a
        LEFT JOIN ({rank_keys_sql(pages, keys, query.levels)}) AS b USING ({keys})
        ORDER BY {keys}
    """


def fetch_buckets(
    store: Store,
    metric: str,
    start_ms: int,
    end_ms: int,
    step_ms: int | None,
    group_by: Sequence[str],
    label_filters: Mapping[str, str],
    services: Sequence[str] = (),
    quantiles: Sequence[float] = (),
    *,
    window_ms: int = 1_000,
    error_label: str | None = None,
) -> list[Bucket]:
    """Buckets of ``metric`` over windows starting in ``[start_ms, end_ms)``.

    With ``step_ms`` buckets start at multiples of it (epoch-aligned); without, one bucket per group
    starts at ``start_ms``. ``group_by`` names ``service`` and/or label names; ``quantiles`` are
    levels in (0, 1); ``window_ms`` (the stream stage's window) decides which tiers may serve;
    ``error_label`` counts observations whose label of that name starts with 5 into ``errors``.
    """
    segments = plan(start_ms, end_ms, step_ms, window_ms)
    query = SeriesQuery(metric, group_by, label_filters, services, step_ms, start_ms, quantiles, error_label)
    params: dict[str, Any] = {}
    buckets = -(-(end_ms - start_ms) // step_ms) + 1 if step_ms else 1  # per group (+1: the aligned edge)
    # More rows than MAX_SERIES groups of every bucket can only come from more groups.
    most = min(MAX_SERIES * buckets, MAX_POINTS)
    settings = {**API_QUERY_SETTINGS, "max_result_rows": most, "result_overflow_mode": "throw"}
    try:
        rows = store.rows(_sql(query, segments, params), params, settings)
    except QueryLimitExceeded as exc:
        if exc.bound != "rows":
            raise
        raise QueryLimitExceeded(
            "series",
            f"more than {most} buckets ({buckets} per group): the limits are {MAX_SERIES} groups and {MAX_POINTS} "
            "buckets a query; filter by service or label, group by fewer labels or use a larger step",
        ) from exc
    n = len(group_by)
    nans = [math.nan] * len(quantiles)
    return [
        Bucket(
            group=dict(zip(group_by, row[:n], strict=True)),
            t_ms=int(row[n]),
            kind=str(row[n + 1]),
            count=int(row[n + 2]),
            sum=float(row[n + 3]),
            min=float(row[n + 4]),
            max=float(row[n + 5]),
            errors=int(row[n + 6]),
            quantiles=answers(row[n + 7], float(row[n + 4]), float(row[n + 5])) if row[n + 7] else nans,
        )
        for row in rows
    ]


@dataclass(slots=True)
class ServiceRed:
    """Rate, errors and duration of one service's requests over a range."""

    service: str
    requests: int
    errors: int  # requests whose status label starts with 5
    quantiles: list[float]  # durations at the requested levels


def red_by_service(
    store: Store,
    metric: str,
    status_label: str,
    start_ms: int,
    end_ms: int,
    quantiles: Sequence[float],
    window_ms: int = 1_000,
) -> list[ServiceRed]:
    buckets = fetch_buckets(
        store, metric, start_ms, end_ms, None, ["service"], {}, (), quantiles,
        window_ms=window_ms, error_label=status_label,
    )  # fmt: skip
    return [ServiceRed(b.group["service"], b.count, b.errors, b.quantiles) for b in buckets]


@dataclass(slots=True)
class MetricInfo:
    name: str
    kind: str
    services: list[str]
    series: int  # distinct (service, labels) combinations seen in the range
    points: int  # points in the range
    last_seen_ms: int  # start of the newest window holding the metric


def list_metrics(store: Store, start_ms: int, end_ms: int) -> list[MetricInfo]:
    rows = store.rows(
        """
        SELECT name, any(kind), groupUniqArray(service), uniqExact(service, labels), sum(count),
               toUnixTimestamp64Milli(max(window_start))
        FROM rollups
        WHERE window_start >= fromUnixTimestamp64Milli({start:Int64})
          AND window_start < fromUnixTimestamp64Milli({end:Int64})
        GROUP BY name ORDER BY name
        """,
        {"start": start_ms, "end": end_ms},
        API_QUERY_SETTINGS,
    )
    return [MetricInfo(r[0], str(r[1]), sorted(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]


@dataclass(slots=True)
class ServiceInfo:
    service: str
    metrics: int  # distinct metric names in the range
    points: int
    last_seen_ms: int


def list_services(store: Store, start_ms: int, end_ms: int) -> list[ServiceInfo]:
    rows = store.rows(
        """
        SELECT service, uniqExact(name), sum(count), toUnixTimestamp64Milli(max(window_start))
        FROM rollups
        WHERE window_start >= fromUnixTimestamp64Milli({start:Int64})
          AND window_start < fromUnixTimestamp64Milli({end:Int64})
        GROUP BY service ORDER BY service
        """,
        {"start": start_ms, "end": end_ms},
        API_QUERY_SETTINGS,
    )
    return [ServiceInfo(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]
