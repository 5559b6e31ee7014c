"""Read helpers over the rollups: buckets of merged windows, RED summaries, what exists.

A query groups window rows into buckets (``step`` milliseconds, aligned to the epoch) and series
groups. Count, sum and extremes are summed / taken over the rows. Percentiles come from merging the
rows' histograms (schemas/sketch.py), never from averaging stored percentiles: window rows and the
pages tiers hold them as pages of dense slot counts with each page's total (storage/tiers.py). A
query reads, per group and bucket, first the pages' totals alone and finds from them the page
holding each level's rank, then the slot counts of those pages only (a tier's pages table is sorted
by page, so only their granules are read), and finds the slot: the rank's histogram key. numpy
searches both steps for every group at once (:func:`_rank_keys`), and
:func:`schemas.sketch.answers_of_rows` turns the keys into values as the alert path does: alerts and
queries report the same float for the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from schemas.sketch import PAGE_SLOTS, answers_of_rows, ranks_of_rows
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
    def width(self) -> int:
        """How many grouping columns :attr:`keys` names."""
        return int(self.several) + len(self.group_by) + 1

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


_NO_TOTALS = "CAST(([], []), 'Tuple(Array(Int32), Array(UInt64))')"  # sumMap's type, empty


def _scalars_sql(source: _Source, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """Count, sum, extremes (and errors) of one source per group and bucket; with levels asked, also
    ``own`` = 1 (a row of the source's own) and the pages' totals ``tm`` when the source's rows
    carry them (window rows: ``rollups``)."""
    columns, where = _select_where(source, query, params, index)
    errors = "sumIf(count, startsWith(labels[{status:String}], '5'))" if query.error_label else "0"
    totals = ""
    if query.levels:
        totals = (
            ", 1 AS own, " + ("sumMap(pages, page_totals)" if source.pages == source.table else _NO_TOTALS) + " AS tm"
        )
    return f"""
        SELECT {columns}, toString(any(kind)) AS kind, sum(count) AS c, sum(sum) AS s, min(min) AS lo, max(max) AS hi,
               {errors} AS err{totals}
        FROM {source.table}
        WHERE {where}
        GROUP BY {query.keys}
    """


def _page_totals_sql(source: _Source, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """The pages' totals ``tm`` of a tier's source per group and bucket, in the columns of
    :func:`_scalars_sql` (``own`` = 0, and values every aggregate of the summary ignores)."""
    columns, where = _select_where(source, query, params, index)
    return f"""
        SELECT {columns}, '' AS kind, 0 AS c, 0 AS s, inf AS lo, -inf AS hi, 0 AS err, 0 AS own,
               sumMap([page], [total]) AS tm
        FROM {source.pages}
        WHERE {where}
        GROUP BY {query.keys}
    """


def pages_sql(segment: Segment, query: SeriesQuery, params: dict[str, Any], index: int) -> str:
    """The histogram pages of one segment per group and bucket (columns ``page``, ``pc``): a tier's
    summed per page (``sumForEachMerge``), window rows' as they are, a page in as many rows as
    windows hold it. Every page is read: for whole histograms (storage/heatmap.py); percentiles
    read only the pages holding their ranks (:func:`_rank_keys`)."""
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


def _slots_sql(sources: list[_Source], query: SeriesQuery, params: dict[str, Any]) -> str:
    """Per group, bucket and page of ``{ranked:Array(Int32)}``: the page's slot counts summed over
    the group's rows (``pc``), the second step of a percentile. A tier's pages table is sorted by
    page first, so only the granules of those pages are read."""
    keys = query.keys
    parts = []
    for i, source in enumerate(sources):
        columns, where = _select_where(source, query, params, i)
        if source.pages == "rollups":
            read, counts = "rollups ARRAY JOIN pages AS page, page_counts AS counts", "sumForEach(counts)"
        else:
            read, counts = source.pages, "sumForEachMerge(counts)"
        parts.append(
            f"SELECT {columns}, page, {counts} AS pc FROM {read} "
            f"WHERE {where} AND page IN {{ranked:Array(Int32)}} GROUP BY {keys}, page"
        )
    if len(parts) == 1:
        return parts[0]
    return f"SELECT {keys}, page, sumForEach(pc) AS pc FROM ({' UNION ALL '.join(parts)}) GROUP BY {keys}, page"


def _rows(table: pa.Table, width: int) -> list[tuple[Any, ...]]:
    """Each row's first ``width`` columns as a tuple (the group and bucket, and what follows)."""
    return list(zip(*(table.column(i).to_pylist() for i in range(width)), strict=True))


def _flat(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """A list column as its values (int64) and its rows' offsets into them (one more than rows)."""
    lists = column.combine_chunks()
    if isinstance(lists, pa.ChunkedArray):  # a result of no rows has no chunk to combine
        lists = pa.array([], type=column.type)
    offsets = lists.offsets.to_numpy().astype(np.int64)
    values = lists.values.to_numpy().astype(np.int64)[offsets[0] : offsets[-1]]
    return values, offsets - offsets[0]


def _first_above(
    values: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    ranks: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """For each ``rows[i]`` (a row of a list column: its elements are ``values[offsets[r]:offsets[r + 1]]``),
    the index within the row of its first element whose cumulative count exceeds ``ranks[i]``
    (its last when none does; -1 for an empty row), all at once: the rows' elements are taken one
    row after another, and as counts are never negative their cumulative sum only rises, so one
    sorted search finds each answer inside its row."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    ends = np.cumsum(lengths)
    firsts = ends - lengths
    taken = values[np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(firsts - starts, lengths)]
    cumulative = np.cumsum(taken)
    before = np.concatenate([[0], cumulative])[firsts]
    found = np.searchsorted(cumulative, before + ranks, side="right")
    inside: npt.NDArray[np.int64] = np.minimum(found, ends - 1) - firsts
    return inside


@dataclass(frozen=True)
class _RankPages:
    """Step (1) of :func:`_rank_keys` done: for each search (one per group holding observations and
    level, group by group), its group's row of the summary, the page holding its rank, and that rank
    counted from the page's first slot."""

    rows: npt.NDArray[np.int64]
    pages: npt.NDArray[np.int64]
    inside: npt.NDArray[np.int64]


def _rank_pages(totals: pa.Table, levels: Sequence[float]) -> _RankPages:
    """The page of each group's rank at each level, from the pages' totals (``pages`` ascending
    with their ``totals``, a row per group)."""
    page_numbers, offsets = _flat(totals.column("pages"))
    page_totals, _ = _flat(totals.column("totals"))
    before = np.concatenate([[0], np.cumsum(page_totals)])  # observations before each page, all groups
    everything = before[offsets[1:]] - before[offsets[:-1]]
    held = np.flatnonzero(everything > 0)
    ranks = ranks_of_rows(everything[held], levels)
    rows = np.repeat(held, len(levels))
    first = offsets[rows]
    page = first + _first_above(page_totals, offsets, rows, ranks.ravel())
    return _RankPages(rows, page_numbers[page], ranks.ravel() - (before[page] - before[first]))


def _rank_keys(
    store: Store,
    query: SeriesQuery,
    sources: list[_Source],
    params: dict[str, Any],
    summary: pa.Table,
    groups: list[tuple[Any, ...]],
) -> dict[int, list[int]]:
    """Per row of ``summary`` (its group and bucket: ``groups``) holding observations, the histogram
    key holding the rank of each level, in two steps that each read little: (1) from every page's
    total (in ``summary``, of :func:`_summary_sql`), the page holding each rank (the first whose
    cumulative total exceeds it) and the rank counted from that page's first slot; (2) the slot
    counts of those pages only, and in each the first slot whose cumulative count exceeds that rank.

    The ranks are :func:`schemas.sketch.ranks_of_rows`', and the search is
    :func:`schemas.sketch.rank_keys`'. Why two statements and numpy rather than one statement
    joining the steps in SQL: ClickHouse planned that one for longer (its CTE read twice, a join, a
    lambda per search) than it takes to run these. Inserts between the statements only
    add counts: a rank's page then holds the rank within the page's newer counts, or the page's
    last slot; a group whose page is gone is left without percentiles."""
    levels = len(query.levels)
    found = _rank_pages(summary, query.levels)
    if not len(found.rows):
        return {}
    params["ranked"] = sorted(set(found.pages.tolist()))
    # Bounded in time and memory, not in rows: the summary bounded the groups, and a group has a row
    # per page some group's rank is on (up to a few per level).
    slots = store.arrow(_slots_sql(sources, query, params), params, API_QUERY_SETTINGS)
    row_of = {(*group, page): i for i, (*group, page) in enumerate(_rows(slots, query.width + 1))}
    counts, offsets = _flat(slots.column("pc"))
    rows = np.array(
        [row_of.get((*groups[g], page), -1) for g, page in zip(found.rows.tolist(), found.pages.tolist(), strict=True)],
        dtype=np.int64,
    )
    present = rows >= 0
    slot = np.full(len(rows), -1, dtype=np.int64)
    slot[present] = _first_above(counts, offsets, rows[present], found.inside[present])
    keys = (found.pages * PAGE_SLOTS + slot).reshape(-1, levels).tolist()
    complete = np.all(slot.reshape(-1, levels) >= 0, axis=1).tolist()
    searched = found.rows[::levels].tolist()
    return {g: k for g, k, ok in zip(searched, keys, complete, strict=True) if ok}


def _summary_sql(query: SeriesQuery, sources: list[_Source], params: dict[str, Any]) -> str:
    """Per group and bucket over every source, ordered: kind, count, sum, extremes and errors, and
    with levels asked the pages' totals as ``pages`` (ascending) and ``totals``, the first step of a
    percentile (:func:`_rank_keys`), read in the same statement (a statement of its own cost 4-7 ms
    more a query). A group only a tier's pages table holds (the sink fills that table after the
    tier's own) is left out, as the sink has not finished storing it."""
    keys = query.keys
    parts = [_scalars_sql(source, query, params, i) for i, source in enumerate(sources)]
    if query.levels:
        parts += [
            _page_totals_sql(source, query, params, i)
            for i, source in enumerate(sources)
            if source.pages != source.table
        ]
    totals = ", tm.1 AS pages, tm.2 AS totals" if query.levels else ""
    if len(parts) == 1:
        return f"SELECT {keys}, kind, c, s, lo, hi, err{totals} FROM ({parts[0]}) ORDER BY {keys}"
    merged = ", sumMap(tm) AS tm" if query.levels else ""
    return f"""
        SELECT {keys}, kind, c, s, lo, hi, err{totals}
        FROM (
            SELECT {keys}, anyIf(kind, kind != '') AS kind, sum(c) AS c, sum(s) AS s, min(lo) AS lo, max(hi) AS hi,
                   sum(err) AS err{merged}
            FROM ({" UNION ALL ".join(parts)})
            GROUP BY {keys}
            {"HAVING max(own) = 1" if query.levels else ""}
        )
        ORDER BY {keys}
    """


def _bind(query: SeriesQuery, params: dict[str, Any]) -> None:
    """The parameters every part of ``query``'s SQL shares."""
    params["start"] = query.start_ms
    if query.step_ms:
        params["step"] = query.step_ms
    if query.services:
        params["services"] = list(query.services)
    if query.error_label:
        params["status"] = query.error_label
    for i, (key, value) in enumerate(sorted(query.label_filters.items())):
        params[f"fk{i}"], params[f"fv{i}"] = key, value


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
    sources = _sources(segments)
    _bind(query, params)
    try:
        summary = store.arrow(_summary_sql(query, sources, params), params, settings)
        rows = _rows(summary, query.width + 6)  # the group and bucket, kind, c, s, lo, hi, err
        groups = [row[: query.width] for row in rows]
        keys = _rank_keys(store, query, sources, params, summary, groups) if quantiles and rows else {}
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
    n = first + len(group_by)  # the bucket's column
    ranked = list(keys)
    values = answers_of_rows(
        np.array([keys[i] for i in ranked], dtype=np.int64).reshape(len(ranked), len(quantiles)),
        [rows[i][n + 4] for i in ranked],
        [rows[i][n + 5] for i in ranked],
    )
    found = dict(zip(ranked, values, strict=True))
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
            quantiles=found.get(i, nans),
        )
        for i, row in enumerate(rows)
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
