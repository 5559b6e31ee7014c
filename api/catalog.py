"""``GET /api/v1/services`` and ``GET /api/v1/metrics``: what exists, with RED summaries."""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.context import ApiContext, api_context
from api.errors import error_responses
from api.models import MetricsCatalog, ServicesCatalog
from api.responses import FastJSONResponse
from api.ttlcache import ranged_answer
from storage.queries import ServiceInfo, ServiceRed, list_metrics, list_services, red_by_service
from storage.traces import SpanRed, span_red

__all__ = ["REQUEST_METRIC", "STATUS_LABEL", "router"]

router = APIRouter(prefix="/api/v1", tags=["catalog"])

# RED figures come from the request-duration distribution: its count is the request rate, its
# status_code label tells errors (5xx), its digest the latency percentiles.
REQUEST_METRIC = "http.server.duration"
STATUS_LABEL = "status_code"
DEFAULT_RANGE_MS = 15 * 60_000
RED_LEVELS = (0.5, 0.95, 0.99)
_RANGE_ERRORS = error_responses({400: "start or end is invalid"})


def _span_red(found: SpanRed, duration_ms: int) -> dict[str, Any] | None:
    if found.basis is None:
        return None
    return {
        "basis": found.basis,
        "requests": found.requests,
        "rate": found.requests * 1000.0 / duration_ms,
        "errors": found.errors,
        "error_rate": found.errors / found.requests,
        **dict(zip(("p50", "p95", "p99"), found.quantiles, strict=True)),
    }


def _red(found: list[ServiceRed], duration_ms: int) -> dict[str, dict[str, Any]]:
    return {
        r.service: {
            "requests": r.requests,
            "rate": r.requests * 1000.0 / duration_ms,
            "errors": r.errors,
            "error_rate": r.errors / r.requests if r.requests else 0.0,
            **dict(zip(("p50", "p95", "p99"), r.quantiles, strict=True)),
        }
        for r in found
    }


@router.get(
    "/services",
    summary="Services seen in a range, with RED figures",
    response_class=FastJSONResponse,
    response_model=ServicesCatalog,
    responses=_RANGE_ERRORS,
)
async def services(
    request: Request,
    context: Annotated[ApiContext, Depends(api_context)],
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 15m")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
) -> FastJSONResponse:
    """RED (rate, errors, duration) per service, milliseconds: ``red`` from ``http.server.duration``,
    ``span_red`` from its spans (SERVER spans, or root spans for a service serving none: ``basis``).

    Span RED is computed from the spans table, not from the stream stage's ``span.*`` metrics: those
    carry no span kind, so a service's client and internal spans would count as requests too."""
    compute = functools.partial(_services, context)
    return FastJSONResponse(await ranged_answer(request, "services", start, end, DEFAULT_RANGE_MS, (), compute))


async def _services(context: ApiContext, start_ms: int, end_ms: int) -> dict[str, Any]:
    found, red_rows, span_rows = await asyncio.gather(
        asyncio.to_thread(list_services, context.store, start_ms, end_ms),
        asyncio.to_thread(
            red_by_service, context.store, REQUEST_METRIC, STATUS_LABEL, start_ms, end_ms, RED_LEVELS, context.window_ms
        ),
        asyncio.to_thread(span_red, context.store, start_ms, end_ms, RED_LEVELS),
    )
    red = _red(red_rows, end_ms - start_ms)
    spans = {r.service: r for r in span_rows}
    known = {s.service for s in found}
    # Services seen only through their spans are listed too (no metric rollup of theirs yet).
    found = sorted(
        [*found, *(ServiceInfo(r.service, 0, 0, r.last_seen_ms) for r in span_rows if r.service not in known)],
        key=lambda s: s.service,
    )
    body = {
        "start": start_ms,
        "end": end_ms,
        "services": [
            {
                "service": s.service,
                "metrics": s.metrics,
                "points": s.points,
                "last_seen": s.last_seen_ms,
                "red": red.get(s.service),
                "span_red": _span_red(spans[s.service], end_ms - start_ms) if s.service in spans else None,
            }
            for s in found
        ],
    }
    return body


@router.get(
    "/metrics",
    summary="Metrics seen in a range",
    response_class=FastJSONResponse,
    response_model=MetricsCatalog,
    responses=_RANGE_ERRORS,
)
async def metrics(
    request: Request,
    context: Annotated[ApiContext, Depends(api_context)],
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 15m")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
) -> FastJSONResponse:
    compute = functools.partial(_metrics, context)
    return FastJSONResponse(await ranged_answer(request, "metrics", start, end, DEFAULT_RANGE_MS, (), compute))


async def _metrics(context: ApiContext, start_ms: int, end_ms: int) -> dict[str, Any]:
    found = await asyncio.to_thread(list_metrics, context.store, start_ms, end_ms)
    body = {
        "start": start_ms,
        "end": end_ms,
        "metrics": [
            {
                "name": m.name,
                "kind": m.kind,
                "services": m.services,
                "series": m.series,
                "points": m.points,
                "last_seen": m.last_seen_ms,
            }
            for m in found
        ],
    }
    return body
