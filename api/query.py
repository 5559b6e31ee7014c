"""``GET /api/v1/query``: percentiles and aggregates of a metric over any range, step and grouping."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.models import QueryResult
from api.params import csv_param, duration_param, time_range
from api.responses import FastJSONResponse
from api.stats import bucket_stats
from schemas.limits import LABEL_KEY_PATTERN
from schemas.stats import QUANTILES, Stat, quantile_levels
from storage.queries import fetch_buckets

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["query"])

MAX_POINTS_PER_SERIES = 11_000  # as Prometheus: a range query of more buckets is refused
DEFAULT_RANGE_MS = 3_600_000
LABEL_PREFIX = "label."


def _label_filters(request: Request) -> dict[str, str]:
    filters = {}
    for key, value in request.query_params.items():
        if key.startswith(LABEL_PREFIX):
            label = key.removeprefix(LABEL_PREFIX)
            if not LABEL_KEY_PATTERN.match(label):
                raise ApiError.bad_param(key, f"label name {label!r} is not valid")
            filters[label] = value
    return filters


STAT_NAMES = [stat.value for stat in Stat]


def _stats(value: str) -> list[Stat]:
    names = csv_param(value)
    unknown = [s for s in names if s not in STAT_NAMES]
    if unknown or not names:
        raise ApiError.bad_param("stats", f"unknown stats {unknown}; choose from {', '.join(STAT_NAMES)}")
    return [Stat(s) for s in names]


def _group_by(value: str | None) -> list[str]:
    dimensions = csv_param(value)
    for dimension in dimensions:
        if dimension != "service" and not LABEL_KEY_PATTERN.match(dimension):
            raise ApiError.bad_param("group_by", f"{dimension!r} is neither 'service' nor a label name")
    return list(dict.fromkeys(dimensions))


@router.get(
    "/query",
    summary="Query a metric: percentiles and aggregates per group and step",
    response_class=FastJSONResponse,
    response_model=QueryResult,
    responses=error_responses({400: "a parameter is invalid (named in details), or percentiles of a counter"}),
)
async def query(
    request: Request,
    context: Annotated[ApiContext, Depends(api_context)],
    metric: Annotated[str, Query(min_length=1, description="metric name, e.g. http.server.duration")],
    service: Annotated[str | None, Query(description="only these services (comma-separated)")] = None,
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 1h")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
    step: Annotated[str | None, Query(description="bucket size, a multiple of the window, e.g. 10s")] = None,
    stats: Annotated[str, Query(description=f"comma-separated, from {','.join(STAT_NAMES)}")] = "p50,p95,p99,count",
    group_by: Annotated[
        str | None, Query(description="'service' and/or label names; empty for one series")
    ] = "service",
) -> FastJSONResponse:
    """Buckets of ``step`` aligned to the epoch (or one bucket for the whole range without ``step``).

    Add ``label.<name>=<value>`` parameters to filter on labels. Percentiles come from merging the
    histograms of every window in a bucket (schemas/sketch.py).
    """
    start_ms, end_ms = time_range(start, end, DEFAULT_RANGE_MS)
    wanted = _stats(stats)
    dimensions = _group_by(group_by)
    filters = _label_filters(request)
    step_ms = duration_param("step", step) if step else None
    if step_ms is not None:
        if step_ms % context.window_ms:
            raise ApiError.bad_param("step", f"{step} is not a multiple of the {context.window_ms} ms window")
        if (end_ms - start_ms) // step_ms > MAX_POINTS_PER_SERIES:
            raise ApiError.bad_param(
                "step", f"{step} gives more than {MAX_POINTS_PER_SERIES} points; use a larger step"
            )
    buckets = await asyncio.to_thread(
        fetch_buckets,
        context.store,
        metric,
        start_ms,
        end_ms,
        step_ms,
        dimensions,
        filters,
        csv_param(service),
        quantile_levels(wanted),
        window_ms=context.window_ms,
    )
    if any(b.kind == "counter" for b in buckets) and any(s in QUANTILES for s in wanted):
        raise ApiError.bad_param("stats", f"{metric} is a counter: percentiles are not defined; use rate, sum or count")
    series: dict[tuple[str, ...], dict[str, Any]] = {}
    duration = step_ms or end_ms - start_ms
    for bucket in buckets:
        key = tuple(bucket.group[d] for d in dimensions)
        entry = series.setdefault(key, {"group": bucket.group, "points": []})
        entry["points"].append({"t": bucket.t_ms, **bucket_stats(bucket, wanted, duration)})
    body = {"metric": metric, "start": start_ms, "end": end_ms, "step_ms": step_ms, "series": list(series.values())}
    return FastJSONResponse(body)
