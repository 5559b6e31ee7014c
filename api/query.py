"""``GET /api/v1/query``: percentiles and aggregates of a metric over any range, step and grouping."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.bodies import Rendered, etag_of
from api.cache import Answer, Part, QueryCache, QuerySpec, query_cache
from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.httpcache import CURRENT_SCOPE_KEY, answer_headers
from api.models import QueryResult
from api.params import csv_param, duration_param, time_range, window_bounds
from api.responses import FastJSONResponse, RenderedResponse, render_json
from api.stats import bucket_stats
from schemas.limits import LABEL_KEY_PATTERN
from schemas.stats import QUANTILES, Stat, quantile_levels
from storage.queries import fetch_buckets

__all__ = [
    "label_filters",
    "query_spec",
    "render_query",
    "rendered_at_hand",
    "request_label_filters",
    "router",
    "run_query",
]

router = APIRouter(prefix="/api/v1", tags=["query"])

_HASH_IN_THREAD_BYTES = 64 * 1024  # bodies past this are hashed in a worker thread, off the event loop
MAX_POINTS_PER_SERIES = 11_000  # as Prometheus: a range query of more buckets is refused
DEFAULT_RANGE_MS = 3_600_000
LABEL_PREFIX = "label."


def label_filters(params: Iterable[tuple[str, str]], prefix: str = LABEL_PREFIX) -> dict[str, str]:
    """The label filters among ``params``: those named ``<prefix><label>``."""
    filters = {}
    for key, value in params:
        if key.startswith(prefix):
            label = key.removeprefix(prefix)
            if not LABEL_KEY_PATTERN.match(label):
                raise ApiError.bad_param(key, f"label name {label!r} is not valid")
            filters[label] = value
    return filters


def request_label_filters(request: Request) -> dict[str, str]:
    """The label filters of a request's query parameters (``label.<name>=<value>``)."""
    return label_filters(request.query_params.items())


STAT_NAMES = [stat.value for stat in Stat]


def _stats(names: list[str]) -> list[Stat]:
    unknown = [s for s in names if s not in STAT_NAMES]
    if unknown or not names:
        raise ApiError.bad_param("stats", f"unknown stats {unknown}; choose from {', '.join(STAT_NAMES)}")
    return [Stat(s) for s in names]


def _group_by(dimensions: list[str]) -> list[str]:
    for dimension in dimensions:
        if dimension != "service" and not LABEL_KEY_PATTERN.match(dimension):
            raise ApiError.bad_param("group_by", f"{dimension!r} is neither 'service' nor a label name")
    return list(dict.fromkeys(dimensions))


def query_spec(
    metric: str,
    services: list[str],
    stats: list[str],
    group_by: list[str],
    labels: dict[str, str],
    step: str | None,
    span_ms: int,
    window_ms: int,
) -> QuerySpec:
    """The validated, normalised query (what its answers are cached on); a 400 naming the parameter
    otherwise. ``span_ms``: the range's length (bounds the points a step gives)."""
    wanted = _stats(stats)
    step_ms = duration_param("step", step) if step else None
    if step_ms is not None:
        if step_ms % window_ms:
            raise ApiError.bad_param("step", f"{step} is not a multiple of the {window_ms} ms window")
        if span_ms // step_ms > MAX_POINTS_PER_SERIES:
            raise ApiError.bad_param(
                "step", f"{step} gives more than {MAX_POINTS_PER_SERIES} points; use a larger step"
            )
    return QuerySpec(
        metric=metric,
        services=tuple(sorted(set(services))),
        stats=tuple(s.value for s in wanted),
        group_by=tuple(_group_by(group_by)),
        labels=tuple(sorted(labels.items())),
        step_ms=step_ms,
    )


async def _read(context: ApiContext, spec: QuerySpec, start_ms: int, end_ms: int) -> Part:
    """The answer of ``[start_ms, end_ms)`` from ClickHouse, series sorted by group."""
    wanted = [Stat(s) for s in spec.stats]
    buckets = await asyncio.to_thread(
        fetch_buckets,
        context.store,
        spec.metric,
        start_ms,
        end_ms,
        spec.step_ms,
        spec.group_by,
        dict(spec.labels),
        spec.services,
        quantile_levels(wanted),
        window_ms=context.window_ms,
    )
    series: dict[tuple[str, ...], dict[str, Any]] = {}
    duration = spec.step_ms or end_ms - start_ms
    for bucket in buckets:
        key = tuple(bucket.group[d] for d in spec.group_by)
        entry = series.setdefault(key, {"group": bucket.group, "points": []})
        entry["points"].append({"t": bucket.t_ms, **bucket_stats(bucket, wanted, duration)})
    return Part(list(series.values()), any(b.kind == "counter" for b in buckets))


async def run_query(
    context: ApiContext, cache: QueryCache, spec: QuerySpec, start_ms: int, end_ms: int
) -> tuple[dict[str, Any], Answer]:
    """The body of ``GET /api/v1/query`` for ``spec`` over ``[start_ms, end_ms)`` and how it was
    answered; a 400 when percentiles of a counter are asked. The range is answered, and said, with
    its ends rounded up to window boundaries: the same windows start inside, and requests of one
    window period get the same body (one ETag, one compression)."""
    start_ms, end_ms = window_bounds(start_ms, end_ms, context.window_ms)
    answer = await cache.answer(spec, start_ms, end_ms, functools.partial(_read, context, spec))
    if answer.counter and any(s in QUANTILES for s in spec.stats):
        raise ApiError.bad_param(
            "stats", f"{spec.metric} is a counter: percentiles are not defined; use rate, sum or count"
        )
    body = {"metric": spec.metric, "start": start_ms, "end": end_ms, "step_ms": spec.step_ms, "series": answer.series}
    return body, answer


async def render_query(cache: QueryCache, spec: QuerySpec, body: dict[str, Any], answer: Answer) -> Rendered:
    """``body`` (of :func:`run_query`) rendered, with its ETag: the bytes rendered before for the same
    query and range when ``answer`` was merged from the same parts, else rendered and kept now."""
    key = (spec, body["start"], body["end"])
    found = cache.bodies.get(key, answer.parts)
    if found is None:
        raw = render_json(body)
        etag = await asyncio.to_thread(etag_of, raw) if len(raw) > _HASH_IN_THREAD_BYTES else etag_of(raw)
        found = Rendered(raw, etag)
        cache.bodies.put(key, answer.parts, found)
    return found


def rendered_at_hand(
    context: ApiContext, cache: QueryCache, spec: QuerySpec, start_ms: int, end_ms: int
) -> tuple[Rendered, Answer] | None:
    """What :func:`run_query` and :func:`render_query` would give, when the cache holds the whole
    answer and its rendered body: found without waiting for anything (None otherwise, or when the
    answer is a refusal, which is never rendered)."""
    start_ms, end_ms = window_bounds(start_ms, end_ms, context.window_ms)
    answer = cache.kept(spec, start_ms, end_ms)
    if answer is None:
        return None
    found = cache.bodies.get((spec, start_ms, end_ms), answer.parts)
    return None if found is None else (found, answer)


@router.get(
    "/query",
    summary="Query a metric: percentiles and aggregates per group and step",
    response_class=FastJSONResponse,  # what the docs say; the route sends a RenderedResponse
    response_model=QueryResult,
    responses=error_responses({400: "a parameter is invalid (named in details), or percentiles of a counter"}),
)
async def query(
    request: Request,
    context: Annotated[ApiContext, Depends(api_context)],
    cache: Annotated[QueryCache, Depends(query_cache)],
    metric: Annotated[str, Query(min_length=1, description="metric name, e.g. http.server.duration")],
    service: Annotated[str | None, Query(description="only these services (comma-separated)")] = None,
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 1h")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
    step: Annotated[str | None, Query(description="bucket size, a multiple of the window, e.g. 10s")] = None,
    stats: Annotated[str, Query(description=f"comma-separated, from {','.join(STAT_NAMES)}")] = "p50,p95,p99,count",
    group_by: Annotated[
        str | None, Query(description="'service' and/or label names; empty for one series")
    ] = "service",
) -> RenderedResponse:
    """Buckets of ``step`` aligned to the epoch (or one bucket for the whole range without ``step``).

    Add ``label.<name>=<value>`` parameters to filter on labels. Percentiles come from merging the
    histograms of every window in a bucket (schemas/sketch.py).
    """
    start_ms, end_ms = time_range(start, end, DEFAULT_RANGE_MS)
    filters = request_label_filters(request)
    spec = query_spec(
        metric, csv_param(service), csv_param(stats), csv_param(group_by), filters, step, end_ms - start_ms,
        context.window_ms,
    )  # fmt: skip
    body, answer = await run_query(context, cache, spec, start_ms, end_ms)
    response = RenderedResponse(await render_query(cache, spec, body, answer))
    answer_headers(response, answer)
    if answer.kept is not None:  # the same request gets this answer while it is current (the short path)
        request.scope[CURRENT_SCOPE_KEY] = functools.partial(cache.current, answer.kept)
    return response
