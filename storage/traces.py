"""Read helpers over the spans table: a trace by id, trace search, the service graph, span RED.

Times in and out are epoch milliseconds for ranges and epoch nanoseconds for spans (what is stored).
A search range always bounds the spans a query reads (daily partitions and the minmax index on
``start`` prune the rest); only trace-by-id reads without one, through the bloom filter on trace_id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import Span, SpanEvent, SpanKind, SpanStatus
from schemas.sketch import LN_GAMMA, MIN_MAGNITUDE, OFFSET, answers
from storage.client import API_QUERY_SETTINGS, Store
from storage.tracetree import TraceTree, build_tree

__all__ = [
    "MAX_TRACE_BYTES",
    "MAX_TRACE_SPANS",
    "TRACE_SQL",
    "Dependency",
    "SpanRed",
    "TracePage",
    "TraceQuery",
    "TraceSummary",
    "dependencies",
    "fetch_trace",
    "search_traces",
    "span_red",
]

MAX_TRACE_SPANS = 100_000  # spans of one trace returned at most (a runaway trace cannot exhaust the API)
MAX_TRACE_BYTES = 64 * 1024 * 1024  # and at most this many bytes of their texts (tags, events, names)
# A trace found by a search is summarized from its spans within this much of the search range: a
# trace longer than that is summarized by its part near the range.
SUMMARY_SLACK_MS = 3_600_000
# Dependencies: a callee span in the range may have a caller that started up to this much earlier.
PARENT_SLACK_MS = 600_000

_RANGE = "start >= fromUnixTimestamp64Milli({start_ms:Int64}) AND start < fromUnixTimestamp64Milli({end_ms:Int64})"
# A span's duration in ms as a key of perfpulse's one percentile engine (schemas/sketch.py): span
# percentiles answer by the engine's rule, as every other percentile perfpulse reports does.
_DURATION_KEY = (
    f"if(duration_ns / 1e6 > {MIN_MAGNITUDE!r}, toInt32({OFFSET} + ceil(log(duration_ns / 1e6) / {LN_GAMMA!r})), 0)"
)


def _rank_keys(levels: Sequence[float], condition: str = "1") -> str:
    """The engine's key at each level's nearest rank (``max(ceil(q * n), 1)``-th of the sorted keys) among the
    spans matching ``condition``; [] when none does. Durations come back through
    :func:`schemas.sketch.answers` with the group's exact extremes."""
    ranks = ", ".join(f"toUInt64(greatest(ceil({float(q)!r} * countIf({condition})), 1))" for q in levels)
    return f"if(countIf({condition}) = 0, [], arrayMap(i -> ks[i], [{ranks}]))"


# Served from the spans' by_trace projection (migration 20261130090000), ordered by trace_id. ``upto``:
# bytes of the spans so far (ClickHouse's byteSize of each span's texts), so a trace of huge spans is
# cut at MAX_TRACE_BYTES in ClickHouse, before it is read into the process; the first span past the
# bound comes back too, to tell the cut.
TRACE_SQL = """
    SELECT * FROM (
        SELECT span_id, parent_span_id, service, operation, kind, status, status_message,
               toUnixTimestamp64Nano(start), duration_ns, tags,
               arrayMap(t -> toUnixTimestamp64Nano(t), events.ts), events.message, events.level, events.attributes,
               sum(byteSize(operation, status_message, tags, events.message, events.attributes))
                   OVER (ORDER BY start, span_id ROWS UNBOUNDED PRECEDING) AS upto,
               byteSize(operation, status_message, tags, events.message, events.attributes) AS size
        FROM spans
        WHERE trace_id = {trace_id:String}
        ORDER BY start, span_id
        LIMIT {limit:UInt32}
    )
    WHERE upto - size < {max_bytes:UInt64}
"""


def fetch_trace(store: Store, trace_id: str) -> tuple[TraceTree | None, bool]:
    """The tree of trace ``trace_id`` (32 lowercase hex), None when no span of it is stored, and
    whether it was cut at :data:`MAX_TRACE_SPANS` spans or :data:`MAX_TRACE_BYTES` bytes."""
    params = {"trace_id": trace_id, "limit": MAX_TRACE_SPANS + 1, "max_bytes": MAX_TRACE_BYTES}
    rows = store.rows(TRACE_SQL, params, API_QUERY_SETTINGS)
    cut = len(rows) > MAX_TRACE_SPANS or bool(rows and rows[-1][14] > MAX_TRACE_BYTES)
    if cut:
        rows = rows[:MAX_TRACE_SPANS] if len(rows) > MAX_TRACE_SPANS else rows[: max(1, len(rows) - 1)]
    spans = [
        Span(
            trace_id=trace_id,
            span_id=r[0],
            parent_span_id=r[1] or None,
            service=r[2],
            operation=r[3],
            start_ns=int(r[7]),
            end_ns=int(r[7]) + int(r[8]),
            kind=SpanKind(r[4]),
            status=SpanStatus(r[5]),
            status_message=r[6],
            tags=r[9],
            events=[SpanEvent(int(ts), m, lv, a) for ts, m, lv, a in zip(r[10], r[11], r[12], r[13], strict=True)],
        )
        for r in rows
    ]
    return build_tree(trace_id, spans), cut


@dataclass(frozen=True)
class TraceQuery:
    """Traces with at least one span in ``[start_ms, end_ms)`` matching every filter given (all on the
    same span, as Jaeger's search: service, operation, its duration, whether it failed, its tags)."""

    start_ms: int
    end_ms: int
    service: str | None = None
    operation: str | None = None
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    error: bool | None = None  # True: the span failed; False: it did not
    tags: Mapping[str, str] = field(default_factory=dict)  # tag name -> exact value
    limit: int = 20
    after: tuple[int, str] | None = None  # keyset: the (key_ns, trace_id) of the previous page's last trace


@dataclass(slots=True)
class TraceSummary:
    trace_id: str
    root_service: str  # of the root span, or of the earliest span when the root is missing
    root_operation: str
    start_ns: int  # earliest span start
    duration_ns: int  # latest span end - earliest span start
    spans: int
    errors: int  # spans with status error
    services: list[str]
    key_ns: int  # sort key: start of the trace's earliest matching span


@dataclass(slots=True)
class TracePage:
    traces: list[TraceSummary]  # newest first, by (key_ns, trace_id) descending
    next_key: tuple[int, str] | None  # pass as TraceQuery.after for the next page; None at the end


def _filters(query: TraceQuery, params: dict[str, Any]) -> list[str]:
    where = [_RANGE]
    if query.service is not None:
        where.append("service = {service:String}")
        params["service"] = query.service
    if query.operation is not None:
        where.append("operation = {operation:String}")
        params["operation"] = query.operation
    if query.min_duration_ms is not None:
        where.append("duration_ns >= {min_ns:UInt64}")
        params["min_ns"] = max(0, round(query.min_duration_ms * 1e6))
    if query.max_duration_ms is not None:
        where.append("duration_ns <= {max_ns:UInt64}")
        params["max_ns"] = max(0, round(query.max_duration_ms * 1e6))
    if query.error is not None:
        where.append("status = 'error'" if query.error else "status != 'error'")
    for i, (key, value) in enumerate(sorted(query.tags.items())):
        # tags[k] = v is checked against both bloom filters (keys, values); mapContains keeps a
        # filter on an empty value from matching spans without the tag.
        where.append(f"mapContains(tags, {{tk{i}:String}}) AND tags[{{tk{i}:String}}] = {{tv{i}:String}}")
        params[f"tk{i}"], params[f"tv{i}"] = key, value
    if query.after is not None:
        where.append("start <= fromUnixTimestamp64Nano({after_ns:Int64})")
        params["after_ns"], params["after_id"] = query.after
    return where


def search_traces(store: Store, query: TraceQuery) -> TracePage:
    """One page of traces matching ``query``, newest first.

    Keyset pagination: a trace's key is ``(start of its earliest matching span, trace id)``, a
    function of the stored spans and the query alone, so pages neither repeat nor skip a trace while
    spans keep arriving (new traces land before the first page, not between pages).
    """
    params: dict[str, Any] = {"start_ms": query.start_ms, "end_ms": query.end_ms, "limit": query.limit + 1}
    where = _filters(query, params)
    having = "HAVING (key_ns, trace_id) < ({after_ns:Int64}, {after_id:String})" if query.after else ""
    keys = store.rows(
        f"""
        SELECT trace_id, toUnixTimestamp64Nano(min(start)) AS key_ns
        FROM spans
        WHERE {" AND ".join(where)}
        GROUP BY trace_id
        {having}
        ORDER BY key_ns DESC, trace_id DESC
        LIMIT {{limit:UInt32}}
        """,
        params,
        API_QUERY_SETTINGS,
    )
    more = len(keys) > query.limit
    keys = keys[: query.limit]
    found = _summaries(store, [k[0] for k in keys], query.start_ms, query.end_ms)
    traces = []
    for trace_id, key_ns in keys:
        if (summary := found.get(trace_id)) is not None:
            summary.key_ns = int(key_ns)
            traces.append(summary)
    return TracePage(traces, (int(keys[-1][1]), keys[-1][0]) if more else None)


def _summaries(store: Store, trace_ids: list[str], start_ms: int, end_ms: int) -> dict[str, TraceSummary]:
    if not trace_ids:
        return {}
    rows = store.rows(
        f"""
        SELECT trace_id, toUnixTimestamp64Nano(min(start)), max(toUnixTimestamp64Nano(start) + duration_ns),
               count(), countIf(status = 'error'), arraySort(groupUniqArray(service)),
               argMin((service, operation), (parent_span_id != '', start))
        FROM spans
        WHERE trace_id IN {{ids:Array(String)}} AND {_RANGE}
        GROUP BY trace_id
        """,
        {"ids": trace_ids, "start_ms": start_ms - SUMMARY_SLACK_MS, "end_ms": end_ms + SUMMARY_SLACK_MS},
        API_QUERY_SETTINGS,
    )
    return {
        r[0]: TraceSummary(r[0], r[6][0], r[6][1], int(r[1]), int(r[2]) - int(r[1]), int(r[3]), int(r[4]), r[5], 0)
        for r in rows
    }


@dataclass(slots=True)
class Dependency:
    """Calls from one service to another: spans of ``callee`` whose parent span is in ``caller``."""

    caller: str
    callee: str
    calls: int
    errors: int  # callee spans with status error
    p95_ms: float  # of the callee spans' durations


def dependencies(store: Store, start_ms: int, end_ms: int) -> list[Dependency]:
    """The service graph over callee spans starting in ``[start_ms, end_ms)``: a parent/child pair of
    spans in different services is one call (joined in ClickHouse on trace id + parent span id)."""
    rows = store.rows(
        f"""
        SELECT parent.service AS caller, child.service AS callee, count(), countIf(child.status = 'error'),
               arraySort(groupArray(child.key)) AS ks, {_rank_keys([0.95])},
               min(child.duration_ns) / 1e6, max(child.duration_ns) / 1e6
        FROM
        (
            SELECT trace_id, parent_span_id, service, status, duration_ns, {_DURATION_KEY} AS key
            FROM spans
            WHERE parent_span_id != '' AND {_RANGE}
        ) AS child
        INNER JOIN
        (
            SELECT trace_id, span_id, service
            FROM spans
            WHERE start >= fromUnixTimestamp64Milli({{parent_ms:Int64}})
              AND start < fromUnixTimestamp64Milli({{end_ms:Int64}})
        ) AS parent
        ON child.trace_id = parent.trace_id AND child.parent_span_id = parent.span_id
        WHERE parent.service != child.service
        GROUP BY caller, callee
        ORDER BY caller, callee
        """,
        {"start_ms": start_ms, "end_ms": end_ms, "parent_ms": start_ms - PARENT_SLACK_MS},
        API_QUERY_SETTINGS,
    )
    return [Dependency(r[0], r[1], int(r[2]), int(r[3]), answers(r[5], r[6], r[7])[0]) for r in rows]


@dataclass(slots=True)
class SpanRed:
    """Rate, errors and duration of one service's requests, from its spans over a range."""

    service: str
    basis: str | None  # "server": its SERVER spans; "root": its root spans (no server spans); None: neither
    requests: int
    errors: int  # those spans with status error
    quantiles: list[float]  # their durations at the requested levels, ms
    spans: int  # all its spans in the range
    last_seen_ms: int  # start of its newest span


def span_red(store: Store, start_ms: int, end_ms: int, levels: Sequence[float]) -> list[SpanRed]:
    """RED per service over spans starting in ``[start_ms, end_ms)``: from its SERVER spans (the
    requests it serves) or, for a service without any, its root spans (the work it starts itself:
    jobs, consumers, the demo's frontend). One scan computes both and keeps the one that applies."""
    rows = store.rows(
        f"""
        SELECT service,
               countIf(kind = 'server'), countIf(kind = 'server' AND status = 'error'),
               arraySort(groupArrayIf(key, kind = 'server')) AS ks, {_rank_keys(levels, "kind = 'server'")},
               minIf(ms, kind = 'server'), maxIf(ms, kind = 'server'),
               countIf(parent_span_id = ''), countIf(parent_span_id = '' AND status = 'error'),
               arraySort(groupArrayIf(key, parent_span_id = '')) AS rks,
               {_rank_keys(levels, "parent_span_id = ''").replace("ks[i]", "rks[i]")},
               minIf(ms, parent_span_id = ''), maxIf(ms, parent_span_id = ''),
               count(), toUnixTimestamp64Milli(max(start))
        FROM (SELECT *, {_DURATION_KEY} AS key, duration_ns / 1e6 AS ms FROM spans WHERE {_RANGE})
        GROUP BY service
        ORDER BY service
        """,
        {"start_ms": start_ms, "end_ms": end_ms},
        API_QUERY_SETTINGS,
    )
    found = []
    for r in rows:
        if r[1]:
            basis, requests, errors, quantiles = "server", r[1], r[2], answers(r[4], r[5], r[6])
        elif r[7]:
            basis, requests, errors, quantiles = "root", r[7], r[8], answers(r[10], r[11], r[12])
        else:
            basis, requests, errors, quantiles = None, 0, 0, []
        found.append(SpanRed(r[0], basis, int(requests), int(errors), quantiles, int(r[13]), int(r[14])))
    return found
