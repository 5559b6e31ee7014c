"""``GET /api/v1/heatmap``: how many observations of a metric fell in each latency bucket, per time
bucket, regrouped from the stored histograms (storage/heatmap.py): the dashboard's latency heatmap.

Work and answer are bounded: at most :data:`MAX_COLUMNS` time buckets and :data:`MAX_BUCKETS` value
buckets, so at most 150,000 cells whatever the range.
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.models import HeatmapResult
from api.params import csv_param, duration_param, time_range
from api.query import request_label_filters
from api.responses import FastJSONResponse
from storage.heatmap import latency_heatmap

__all__ = ["DEFAULT_COLUMNS", "MAX_BUCKETS", "MAX_COLUMNS", "default_step_ms", "router"]

router = APIRouter(prefix="/api/v1", tags=["query"])

DEFAULT_COLUMNS = 120  # time buckets when no step is given: a readable heatmap at 1,280 px
MAX_COLUMNS = 1_500  # a step giving more time buckets is refused
MAX_BUCKETS = 100  # value buckets at most
DEFAULT_RANGE_MS = 3_600_000
# Steps a default is chosen from (ms): round figures, so that buckets line up with the tiers' minutes
# and hours where the range allows.
_NICE_STEPS_MS = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
]  # fmt: skip


def default_step_ms(span_ms: int, window_ms: int) -> int:
    """The smallest round step, a multiple of the window, giving at most :data:`DEFAULT_COLUMNS`
    buckets over ``span_ms``; whole days past the last round step."""
    for step in _NICE_STEPS_MS:
        if step % window_ms == 0 and math.ceil(span_ms / step) <= DEFAULT_COLUMNS:
            return step
    day = _NICE_STEPS_MS[-1]
    return math.lcm(day, window_ms) * math.ceil(span_ms / DEFAULT_COLUMNS / math.lcm(day, window_ms))


@router.get(
    "/heatmap",
    summary="Latency heatmap: observations per time bucket and value bucket",
    response_class=FastJSONResponse,
    response_model=HeatmapResult,
    responses=error_responses({400: "a parameter is invalid (named in details)"}),
)
async def heatmap(
    request: Request,
    context: Annotated[ApiContext, Depends(api_context)],
    metric: Annotated[str, Query(min_length=1, description="a distribution, e.g. http.server.duration")],
    service: Annotated[str | None, Query(description="only these services (comma-separated)")] = None,
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 1h")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
    step: Annotated[
        str | None, Query(description=f"time bucket, a multiple of the window; default: at most {DEFAULT_COLUMNS}")
    ] = None,
    buckets: Annotated[int, Query(ge=2, le=MAX_BUCKETS, description="value buckets at most")] = 40,
) -> FastJSONResponse:
    """Value buckets are equal steps on a log scale spanning the smallest to the largest
    observation of the range. Add ``label.<name>=<value>`` parameters to filter on labels. A counter
    keeps no histogram: its heatmap has no cell."""
    start_ms, end_ms = time_range(start, end, DEFAULT_RANGE_MS)
    filters = request_label_filters(request)
    if step is None:
        step_ms = default_step_ms(end_ms - start_ms, context.window_ms)
    else:
        step_ms = duration_param("step", step)
        if step_ms % context.window_ms:
            raise ApiError.bad_param("step", f"{step} is not a multiple of the {context.window_ms} ms window")
        if math.ceil((end_ms - start_ms) / step_ms) > MAX_COLUMNS:
            raise ApiError.bad_param("step", f"{step} gives more than {MAX_COLUMNS} time buckets; use a larger step")
    found = await asyncio.to_thread(
        latency_heatmap,
        context.store,
        metric,
        start_ms,
        end_ms,
        step_ms,
        buckets,
        csv_param(service),
        filters,
        window_ms=context.window_ms,
    )
    body = {
        "metric": metric,
        "start": start_ms,
        "end": end_ms,
        "step_ms": step_ms,
        "edges": found.edges,
        "times": found.times,
        "counts": found.counts,
        "total": found.total,
    }
    return FastJSONResponse(body)
