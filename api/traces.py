"""``GET /api/v1/traces/{trace_id}``, ``GET /api/v1/traces`` (search) and ``GET /api/v1/dependencies``.

Times in responses are epoch milliseconds, fractional for spans (microsecond resolution: epoch
nanoseconds do not fit a JSON number exactly); durations are milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api.cache import QueryCache, query_cache
from api.context import ApiContext, api_context
from api.cursor import decode_cursor, encode_cursor
from api.errors import ApiError, error_responses
from api.models import Dependencies, TraceDetail, TracesPage
from api.params import parse_trace_id, time_range
from api.responses import FastJSONResponse
from schemas.limits import MAX_DURATION_MS
from storage import Store
from storage.traces import TraceQuery, TraceSummary, dependencies, fetch_trace, search_traces
from storage.tracetree import SpanNode, TraceTree

__all__ = ["render_trace", "router"]

router = APIRouter(prefix="/api/v1", tags=["traces"])

DEFAULT_RANGE_MS = 3_600_000
MAX_LIMIT = 1_000
TAG_PREFIX = "tag."
MAX_TAG_KEY_LENGTH = 200


def _ms(ns: int) -> float:
    return ns / 1e6


def _span(node: SpanNode) -> dict[str, Any]:
    span = node.span
    return {
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "depth": node.depth,
        "orphan": node.orphan,
        "children": [child.span.span_id for child in node.children],
        "service": span.service,
        "operation": span.operation,
        "kind": span.kind.value,
        "status": span.status.value,
        "status_message": span.status_message,
        "start": _ms(span.start_ns),
        "duration_ms": _ms(span.end_ns - span.start_ns),
        "self_ms": _ms(node.self_ns),
        "critical_ms": _ms(node.critical_ns),
        "tags": span.tags,
        "events": [
            {"ts": _ms(e.ts_ns), "message": e.message, "level": e.level, "attributes": e.attributes}
            for e in span.events
        ],
    }


def render_trace(tree: TraceTree, truncated: bool) -> dict[str, Any]:
    """The trace as a flat list of spans in tree order (parents before children, children by start,
    each with its depth and child ids: deep traces stay within any JSON nesting limit)."""
    nodes = list(tree.walk())
    by_id = {node.span.span_id: node.span for node in nodes}
    start, end = tree.start_ns, tree.end_ns
    return {
        "trace_id": tree.trace_id,
        "start": _ms(start),
        "duration_ms": _ms(end - start),
        "span_count": tree.size,
        "error_count": tree.errors,
        "services": tree.services,
        "root_span_id": tree.root.span.span_id,
        "orphans": sum(1 for node in nodes if node.orphan),
        "truncated": truncated,
        "critical_path": [
            {
                "span_id": s.span_id,
                "service": by_id[s.span_id].service,
                "operation": by_id[s.span_id].operation,
                "start": _ms(s.start_ns),
                "duration_ms": _ms(s.end_ns - s.start_ns),
            }
            for s in tree.critical_path
        ],
        "spans": [_span(node) for node in nodes],
    }


@router.get(
    "/traces/{trace_id}",
    summary="One trace: its spans as a tree, self times and critical path",
    response_class=FastJSONResponse,
    response_model=TraceDetail,
    responses=error_responses({400: "malformed trace id", 404: "no span of the trace is stored"}),
)
async def get_trace(
    context: Annotated[ApiContext, Depends(api_context)],
    cache: Annotated[QueryCache, Depends(query_cache)],
    trace_id: Annotated[str, Path(description="32 hex digits")],
) -> FastJSONResponse:
    """Every span of the trace in tree order. ``self_ms``: time a span spent outside its children;
    ``critical_path``: the sections of spans that decide the trace's latency (Jaeger's algorithm),
    in time order, covering the root span; ``critical_ms``: a span's share of it. Spans whose parent
    is missing are ``orphan`` and sit at depth 0 beside the root. An answer is kept until a span of
    the trace is stored (api/cache.py, TRACE_TTL_S), a second while that cannot be heard."""
    wanted = parse_trace_id(trace_id, "path.trace_id")
    body = await cache.traces.get(wanted, lambda: asyncio.to_thread(_trace, context.store, wanted), cache.trace_ttl_s)
    if body is None:
        raise ApiError(404, f"trace {wanted} not found", [{"loc": "path.trace_id", "msg": "no span of it is stored"}])
    return FastJSONResponse(body)


def _trace(store: Store, trace_id: str) -> dict[str, Any] | None:
    """The body of one trace (rendered in the caller's thread: a big trace is CPU work); None: unknown."""
    tree, truncated = fetch_trace(store, trace_id)
    return None if tree is None else render_trace(tree, truncated)


def _tag_filters(request: Request) -> dict[str, str]:
    filters = {}
    for key, value in request.query_params.items():
        if key.startswith(TAG_PREFIX):
            tag = key.removeprefix(TAG_PREFIX)
            if not tag or len(tag) > MAX_TAG_KEY_LENGTH:
                raise ApiError.bad_param(key, f"a tag name must be 1 to {MAX_TAG_KEY_LENGTH} characters")
            filters[tag] = value
    return filters


def _after(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None:
        return None
    key = decode_cursor("traces", cursor, (int, str))
    key_ns = int(key[0])
    if not 0 <= key_ns < 2**63:
        raise ApiError.bad_param("cursor", "not a cursor of this traces listing; pass back next_cursor unchanged")
    return key_ns, parse_trace_id(str(key[1]), "query.cursor")


def _summary(trace: TraceSummary) -> dict[str, Any]:
    return {
        "trace_id": trace.trace_id,
        "root_service": trace.root_service,
        "root_operation": trace.root_operation,
        "start": _ms(trace.start_ns),
        "duration_ms": _ms(trace.duration_ns),
        "span_count": trace.spans,
        "error_count": trace.errors,
        "services": trace.services,
    }


@router.get(
    "/traces",
    summary="Search traces, newest first",
    response_class=FastJSONResponse,
    response_model=TracesPage,
    responses=error_responses({400: "a parameter is invalid (named in details)"}),
)
async def find_traces(
    request: Request,
    context: Annotated[ApiContext, Depends(api_context)],
    service: Annotated[str | None, Query(min_length=1, description="a span of this service")] = None,
    operation: Annotated[str | None, Query(min_length=1, description="a span of this operation")] = None,
    min_duration_ms: Annotated[
        float | None, Query(ge=0, le=MAX_DURATION_MS, description="the span lasted at least this")
    ] = None,
    max_duration_ms: Annotated[
        float | None, Query(ge=0, le=MAX_DURATION_MS, description="the span lasted at most this")
    ] = None,
    error: Annotated[bool | None, Query(description="true: the span failed; false: it did not")] = None,
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 1h")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="traces per page")] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> FastJSONResponse:
    """Traces holding a span that starts in the range and matches every filter given, including
    ``tag.<name>=<value>`` (all on the same span, as in Jaeger). Newest first by the start of that
    span; ``next_cursor`` (null on the last page) continues without repeats or gaps."""
    start_ms, end_ms = time_range(start, end, DEFAULT_RANGE_MS)
    if min_duration_ms is not None and max_duration_ms is not None and min_duration_ms > max_duration_ms:
        raise ApiError.bad_param("min_duration_ms", f"{min_duration_ms} is above max_duration_ms {max_duration_ms}")
    query = TraceQuery(
        start_ms, end_ms, service, operation, min_duration_ms, max_duration_ms, error,
        _tag_filters(request), limit, _after(cursor),
    )  # fmt: skip
    page = await asyncio.to_thread(search_traces, context.store, query)
    body = {
        "start": start_ms,
        "end": end_ms,
        "traces": [_summary(t) for t in page.traces],
        "next_cursor": encode_cursor("traces", page.next_key) if page.next_key else None,
    }
    return FastJSONResponse(body)


@router.get(
    "/dependencies",
    summary="The service graph over a range",
    response_class=FastJSONResponse,
    response_model=Dependencies,
    responses=error_responses({400: "start or end is invalid"}),
)
async def service_graph(
    context: Annotated[ApiContext, Depends(api_context)],
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 1h")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
) -> FastJSONResponse:
    """Edges caller -> callee: spans of ``callee`` starting in the range whose parent span belongs
    to ``caller``; ``calls``, ``errors`` (callee spans that failed) and ``p95_ms`` of their durations."""
    start_ms, end_ms = time_range(start, end, DEFAULT_RANGE_MS)
    edges = await asyncio.to_thread(dependencies, context.store, start_ms, end_ms)
    body = {
        "start": start_ms,
        "end": end_ms,
        "services": sorted({e.caller for e in edges} | {e.callee for e in edges}),
        "edges": [
            {
                "caller": e.caller,
                "callee": e.callee,
                "calls": e.calls,
                "errors": e.errors,
                "error_rate": e.errors / e.calls,
                "p95_ms": e.p95_ms,
            }
            for e in edges
        ],
    }
    return FastJSONResponse(body)
