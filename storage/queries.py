"""Read helpers over the rollups: buckets of merged windows, RED summaries, what exists.

A query groups window rows into buckets (``step`` milliseconds, aligned to the epoch) and series
groups. Count, sum and extremes are summed / taken over the rows. Percentiles come from merging the
rows' histograms (schemas/sketch.py), never from averaging stored percentiles: window rows and the
pages tiers hold them as pages of dense slot counts with each page's total (storage/tiers.py). A
query finds in SQL, per group, bucket and level, first the page holding the rank from the pages'
totals alone (``found``), then the slot inside that page, summing slot by slot only the rows of
that page (a tier's pages table is sorted by page, so only those granules are read), so only
integer keys come back. Python turns them into values with
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
    "red_by_service",
]


MAX_SERIES = 1_000  # groups one query may answer
MAX_POINTS = 1_000_000  # buckets one query may answer, over all its groups (~100 MB of JSON at most)


@dataclass(slots=True)
class Bucket:
    """The merged windows of one group in one time bucket."""

    metric: str
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
    """One question over one metric, or over several at once (each answered as if alone: a metric
    is then the first grouping column, ``m``); turned into SQL by :func:`_sql`."""

    metrics: tuple[str, ...]
    group_by: Sequence[str]
    label_filters: Mapping[str, str]
    services: Sequence[str]
    step_ms: int | None
    start_ms: int
    levels: Sequence[float]
    error_label: str | None

    @property
    def several(self) -> bool:
        return len(self.metrics) > 1

    @property
    def keys(self) -> str:
        """The grouping columns of every part of the query: the metric (when several), the groups,
        then the bucket ``t``."""
        return ", ".join([*(["m"] if self.several else []), *(f"g{i}" for i in range(len(self.group_by))), "t"])


@dataclass(frozen=True)
class _Source:
    """A table a query reads over one or more ranges of window starts: the segments a plan gives
    one table, read at once (each table read costs ClickHouse ~1-4 ms of planning alone)."""

    table: str
    pages: str
    ranges: tuple[tuple[int, int], ...]  # [start_ms, end_ms)


def _sources(segments: Sequence[Segment]) -> list[_Source]:
    """The segments grouped by table (a range's ragged ends are both read from ``rollups``)."""
    ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for segment in segments:
        ranges.setdefault((segment.table, segment.pages), []).append((segment.start_ms, segment.end_ms))
    return [_Source(table, pages, tuple(spans)) for (table, pages), spans in ranges.items()]


def _select_where(source: _Source, query: SeriesQuery, params: dict[str, Any], index: int) -> tuple[str, str]:
    """The group and bucket columns of one source, and its WHERE clause."""
    groups = ["name AS m"] if query.several else []
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
    spans = []
    for k, (start_ms, end_ms) in enumerate(source.ranges):
        params[f"s{index}_{k}"], params[f"e{index}_{k}"] = start_ms, end_ms
        spans.append(
            f"window_start >= fromUnixTimestamp64Milli({{s{index}_{k}:Int64}})"
            f" AND window_start < fromUnixTimestamp64Milli({{e{index}_{k}:Int64}})"
        )
    if query.several:
        params["metrics"] = list(query.metrics)
    else:
        params["metric"] = query.metrics[0]
    where = [
        "name IN {metrics:Array(String)}" if query.several else "name = {metric:String}",
        spans[0] if len(spans) == 1 else "(" + " OR ".join(f"({s})" for s in spans) + ")",
    ]
    if query.services:
        where.append("service IN {services:Array(String)}")
    for i in range(len(query.label_filters)):
        where.append(f"labels[{{fk{i}:String}}] = {{fv{i}:String}}")
    return ", ".join([*groups, f"{bucket} AS t"]), " AND ".join(where)


def _scalars_sql(source: _Source, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """Count, sum, extremes (and errors) of one source per group and bucket."""
    columns, where = _select_where(source, query, params, index)
    errors = "sumIf(count, startsWith(labels[{status:String}], '5'))" if query.error_label else "0"
    return f"""
        SELECT {columns}, any(kind) AS kind, sum(count) AS c, sum(sum) AS s, min(min) AS lo, max(max) AS hi,
               {errors} AS err
        FROM {source.table}
        WHERE {where}
        GROUP BY {query.keys}
    """


def pages_sql(segment: Segment, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """The histogram pages of one segment per group and bucket (columns ``page``, ``pc``): a tier's
    summed per page (``sumForEachMerge``), window rows' as they are, a page in as many rows as
    windows hold it. Every page is read: for whole histograms (storage/heatmap.py); percentiles
    read only the pages holding their ranks (:func:`_quantile_keys_sql`)."""
    source = _Source(segment.table, segment.pages, ((segment.start_ms, segment.end_ms),))
    columns, where = _select_where(source, query, params, index)
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


def _found_sql(sources: list[_Source], query: SeriesQuery, params: dict[str, Any]) -> str:
    """Per group and bucket, from the pages' totals alone: the page holding the rank of each level
    (``qp``) and that rank counted from the page's first slot (``qr``).

    The rank is ``max(ceil(q * n), 1) - 1`` in Float64, as :func:`schemas.sketch.ranks` computes it;
    the page is the first whose cumulative total exceeds it, as :func:`schemas.sketch.rank_keys`
    searches keys. One expression serves every level: ClickHouse's analyzer spends ~0.5-1 ms on
    each lambda written, more than the search itself."""
    keys = query.keys
    parts = []
    for i, source in enumerate(sources):
        columns, where = _select_where(source, query, params, i)
        totals = "sumMap(pages, page_totals)" if source.pages == "rollups" else "sumMap([page], [total])"
        parts.append(f"SELECT {columns}, {totals} AS tm FROM {source.pages} WHERE {where} GROUP BY {keys}")
    totals = parts[0]
    if len(parts) > 1:
        totals = f"SELECT {keys}, sumMap(tm) AS tm FROM ({' UNION ALL '.join(parts)}) GROUP BY {keys}"
    ranks = ", ".join(f"toUInt64(greatest(ceil({float(q)!r} * n), 1) - 1)" for q in query.levels)
    return f"""
        SELECT {keys}, arrayCumSum(tm.2) AS cum, toFloat64(arraySum(tm.2)) AS n, [{ranks}] AS rk,
               arrayMap(r -> arrayFirstIndex(c -> c > r, cum), rk) AS qi, arrayMap(i -> (tm.1)[i], qi) AS qp,
               arrayMap((r, i) -> r - (cum[i] - (tm.2)[i]), rk, qi) AS qr
        FROM ({totals})
    """


def _rows_sql(source: _Source, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """The rows of one source as page numbers ``pg`` and their slot counts ``pc``: window rows as
    stored, a tier's pages summed per group, bucket and page, for the pages holding some group's
    rank only (the tier's pages table is sorted by page first: only their granules are read)."""
    columns, where = _select_where(source, query, params, index)
    if source.pages == "rollups":
        return f"SELECT {columns}, pages AS pg, page_counts AS pc FROM rollups WHERE {where}"
    return f"""
        SELECT {query.keys}, [page] AS pg, [pc] AS pc
        FROM (
            SELECT {columns}, page, sumForEachMerge(counts) AS pc
            FROM {source.pages}
            WHERE {where} AND page IN (SELECT arrayJoin(qp) FROM found)
            GROUP BY {query.keys}, page
        )
    """


def _quantile_keys_sql(sources: list[_Source], query: SeriesQuery, params: dict[str, Any]) -> str:
    """Per group and bucket, the histogram key holding the rank of each level, as ``qk``: the page
    ``found`` names (:func:`_found_sql`), then the first slot of that page, its counts summed over
    the rows holding it, whose cumulative count exceeds the rank inside the page."""
    keys = query.keys
    rows = " UNION ALL ".join(_rows_sql(source, query, params, i) for i, source in enumerate(sources))
    sums = ", ".join(f"sumForEach(pc[indexOf(pg, qp[{j + 1}])])" for j in range(len(query.levels)))
    return f"""
        SELECT {keys}, arrayMap((p, r, m) -> p * {PAGE_SLOTS} + arrayFirstIndex(c -> c > r, arrayCumSum(m)) - 1,
                                 qp, qr, ms) AS qk
        FROM (
            SELECT {keys}, qp, qr, [{sums}] AS ms
            FROM ({rows}) AS w
            INNER JOIN found AS f USING ({keys})
            GROUP BY {keys}, qp, qr
        )
    """


def _sql(query: SeriesQuery, segments: list[Segment], params: dict[str, Any]) -> str:
    sources = _sources(segments)
    params["start"] = query.start_ms
    if query.step_ms:
        params["step"] = query.step_ms
    if query.services:
        params["services"] = list(query.services)
    if query.error_label:
        params["status"] = query.error_label
    for i, (key, value) in enumerate(sorted(query.label_filters.items())):
        params[f"fk{i}"], params[f"fv{i}"] = key, value
    keys = query.keys
    if len(sources) == 1:
        scalars = _scalars_sql(sources[0], query, params, 0)
    else:
        parts = " UNION ALL ".join(_scalars_sql(source, query, params, i) for i, source in enumerate(sources))
        scalars = f"""
            SELECT {keys}, any(kind) AS kind, sum(c) AS c, sum(s) AS s, min(lo) AS lo, max(hi) AS hi, sum(err) AS err
            FROM ({parts})
            GROUP BY {keys}
        """
    if not query.levels:
        return f"SELECT {keys}, kind, c, s, lo, hi, err, [] FROM ({scalars}) ORDER BY {keys}"
    return f"""
        WITH found AS ({_found_sql(sources, query, params)})
        SELECT {keys}, kind, c, s, lo, hi, err, qk
        FROM ({scalars}) AS a
        LEFT JOIN ({_quantile_keys_sql(sources, query, params)}) AS b USING ({keys})
        ORDER BY {keys}
    """


def fetch_buckets(
    store: Store,
    metric: str | tuple[str, ...],
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
    """Buckets of ``metric`` over windows starting in ``[start_ms, end_ms)``; ``metric`` may be a
    tuple of names answered by one query (ClickHouse spends ~20 ms planning each), each as if
    alone, in the order metric, group, time.

    With ``step_ms`` buckets start at multiples of it (epoch-aligned); without, one bucket per group
    starts at ``start_ms``. ``group_by`` names ``service`` and/or label names; ``quantiles`` are
    levels in (0, 1); ``window_ms`` (the stream stage's window) decides which tiers may serve;
    ``error_label`` counts observations whose label of that name starts with 5 into ``errors``.
    """
    segments = plan(start_ms, end_ms, step_ms, window_ms)
    metrics = (metric,) if isinstance(metric, str) else metric
    query = SeriesQuery(metrics, group_by, label_filters, services, step_ms, start_ms, quantiles, error_label)
    params: dict[str, Any] = {}
    buckets = -(-(end_ms - start_ms) // step_ms) + 1 if step_ms else 1  # per group (+1: the aligned edge)
    # More rows than MAX_SERIES groups of every bucket can only come from more groups.
    most = min(MAX_SERIES * buckets * len(metrics), MAX_POINTS)
    settings = {**API_QUERY_SETTINGS, "max_result_rows": most, "result_overflow_mode": "throw"}
    try:
        rows = store.rows(_sql(query, segments, params), params, settings)
    except QueryLimitExceeded as exc:
        if exc.bound != "rows":
            raise
        each = f" of each of {len(metrics)} metrics" if query.several else ""
        raise QueryLimitExceeded(
            "series",
            f"more than {most} buckets ({buckets} per group{each}): the limits are {MAX_SERIES} "
            f"groups and {MAX_POINTS} buckets a query; filter by service or label, group by fewer labels or use a "
            "larger step",
        ) from exc
    first = int(query.several)  # the metric's column
    n = first + len(group_by)
    nans = [math.nan] * len(quantiles)
    return [
        Bucket(
            metric=str(row[0]) if query.several else metrics[0],
            group=dict(zip(group_by, row[first:n], strict=True)),
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
