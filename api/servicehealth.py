"""``GET /api/v1/services/{service}/health``: a 0-1 health score for load balancers, with its reasons.

Read over the last ``window`` (default 5 minutes: long enough for a p99 of a few hundred requests,
short enough to follow a backend going bad within minutes): the service's ``http.server.duration``
(requests, 5xx ``status_code`` errors, p50/p95/p99, the RED figures of ``/api/v1/services``) and its
firing alerts from the notifier's saved state, scored by :func:`api.health_scores.health_score`.
With ``instance`` (repeated or comma-separated) each instance is scored from the series carrying
that ``instance`` label, and ``score`` is the lowest of them.

Answers are cached for :data:`CACHE_TTL_S` per (service, instances, window): any number of load
balancers polling every second cost one storage read per second and key; an answer's figures are
at most that much older than the request.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api.catalog import RED_LEVELS, REQUEST_METRIC, STATUS_LABEL
from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.health_scores import TARGETS, alerts_on, health_score
from api.models_services import MAX_LABEL_TEXT, ServiceHealth
from api.params import csv_param, duration_param, now_ms
from api.responses import FastJSONResponse
from api.ttlcache import TtlCache, app_ttl_cache
from storage.queries import Bucket, fetch_buckets

__all__ = ["CACHE_TTL_S", "DEFAULT_WINDOW", "router"]

router = APIRouter(prefix="/api/v1", tags=["catalog"])

DEFAULT_WINDOW = "5m"
MIN_WINDOW_MS, MAX_WINDOW_MS = 10_000, 3_600_000
MAX_INSTANCES = 64
CACHE_TTL_S = 1.0
CACHE_ENTRIES = 4_096
Answer = dict[str, Any]


async def _cache(request: Request) -> TtlCache[Answer]:
    """The app's cache of health answers."""
    return app_ttl_cache(request, "service_health", CACHE_TTL_S, CACHE_ENTRIES, stale_s=0.0)  # at most 1 s old


def _instances(values: list[str] | None) -> tuple[str, ...]:
    """The instances asked for, in order, each once."""
    found = list(dict.fromkeys(part for value in values or [] for part in csv_param(value)))
    if len(found) > MAX_INSTANCES:
        raise ApiError.bad_param("instance", f"{len(found)} instances asked for; at most {MAX_INSTANCES}")
    too_long = [i[:64] for i in found if len(i) > MAX_LABEL_TEXT]
    if too_long:
        raise ApiError.bad_param("instance", f"{too_long[0]!r}...: longer than {MAX_LABEL_TEXT} characters")
    return tuple(found)


def _window_ms(value: str) -> int:
    window_ms = duration_param("window", value)
    if not MIN_WINDOW_MS <= window_ms <= MAX_WINDOW_MS:
        raise ApiError.bad_param("window", f"{value!r} is not between 10s and 1h")
    return window_ms


async def _answer(context: ApiContext, service: str, instances: tuple[str, ...], window_ms: int) -> Answer:
    end_ms = now_ms()
    start_ms = end_ms - window_ms
    group_by = ["instance"] if instances else []
    buckets, view = await asyncio.gather(
        asyncio.to_thread(
            fetch_buckets, context.store, REQUEST_METRIC, start_ms, end_ms, None, group_by, {}, [service], RED_LEVELS,
            window_ms=context.window_ms, error_label=STATUS_LABEL,
        ),
        context.notifier.view(),
    )  # fmt: skip
    statuses = view.alerts(end_ms)
    by_group: dict[str | None, Bucket] = {b.group.get("instance"): b for b in buckets}
    health = []
    for instance in instances or (None,):
        found = by_group.get(instance)
        scored = health_score(
            found.count if found else 0,
            found.errors if found else 0,
            found.quantiles if found else [],
            alerts_on(statuses, service, instance),
        )
        health.append({"instance": instance, **scored})
    return {
        "service": service,
        "start": start_ms,
        "end": end_ms,
        "score": min(h["score"] for h in health),
        "targets": asdict(TARGETS),
        "health": health,
    }


@router.get(
    "/services/{service}/health",
    summary="Health score (0-1) of a service or its instances, with the reasons",
    response_class=FastJSONResponse,
    response_model=ServiceHealth,
    responses=error_responses({400: "a parameter is invalid (named in details)"}),
)
async def service_health(
    context: Annotated[ApiContext, Depends(api_context)],
    cache: Annotated[TtlCache[Answer], Depends(_cache)],
    service: Annotated[str, Path(max_length=MAX_LABEL_TEXT)],
    instance: Annotated[
        list[str] | None, Query(description="score these instances (instance label): repeat or comma-separate")
    ] = None,
    window: Annotated[str, Query(description="how far back from now: 10s to 1h")] = DEFAULT_WINDOW,
) -> FastJSONResponse:
    """``score``: 1 when p50, p95, p99 and the error rate meet their ``targets`` and no alert fires
    on it; else the lowest factor of the ``reasons``: ``target / figure`` for a figure over its
    target, 0.25 for a critical alert firing on it, 0.75 for a warning. Cached for 1 s."""
    instances, window_ms = _instances(instance), _window_ms(window)
    body = await cache.get((service, instances, window_ms), lambda: _answer(context, service, instances, window_ms))
    return FastJSONResponse(body)
