"""Liveness, readiness and perfpulse's own metrics (Prometheus exposition)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from api.context import ApiContext, api_context
from api.models import Alive, Readiness

__all__ = ["router"]

router = APIRouter(tags=["health"])

_EXPOSITION = "Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats)"


@router.get("/healthz", summary="Alive", response_model=Alive)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Kafka and storage reachable",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready: the unreachable one named in checks"}},
)
async def readyz(context: Annotated[ApiContext, Depends(api_context)]) -> JSONResponse:
    kafka, store = await asyncio.gather(context.kafka_ready(), asyncio.to_thread(context.store.ping))
    checks = {"kafka": "ok" if kafka else "unreachable", "storage": "ok" if store else "unreachable"}
    ready = kafka and store
    # The stages of this process (sink, notifier) say how they are doing; readiness stays the
    # reachability of Kafka and storage (a notifier waiting for its topic must not take the API out).
    stages = {h.stage: {"ok": h.ok, "detail": h.detail} for h in context.stages()}
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks, "stages": stages},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    summary="perfpulse's own health in Prometheus text format",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}, "description": _EXPOSITION}},
)
async def prometheus_metrics() -> Response:
    """Every perfpulse process started by one command writes to ``PROMETHEUS_MULTIPROC_DIR``; this
    collects them all (stream workers included), or this process alone when the variable is unset."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
