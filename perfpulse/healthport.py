"""A health endpoint for the stage processes that serve no API (stream worker, sink, notifier).

``PERFPULSE_HEALTH_PORT`` (0: off) makes such a process answer ``GET /healthz`` (alive),
``GET /readyz`` (200 when every stage in it says it is healthy, else 503, with each stage's
detail) and ``GET /metrics`` (its Prometheus metrics), so an orchestrator can probe each one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.health import prometheus_metrics
from api.procboard import ProcessBoard, reporting
from api.selfstats import SelfSampler
from perfpulse.settings import Settings
from schemas.stage import Stage

__all__ = ["health_app", "health_port"]

log = logging.getLogger("perfpulse.health")


def health_app(stages: Sequence[Stage]) -> FastAPI:
    app = FastAPI(title="perfpulse stage health", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        reports = [stage.health() for stage in stages]
        ready = all(r.ok for r in reports)
        body = {"status": "ready" if ready else "not ready", "stages": {r.stage: {"ok": r.ok, "detail": r.detail}
                                                                          for r in reports}}  # fmt: skip
        return JSONResponse(body, status_code=200 if ready else 503)

    app.add_api_route("/metrics", prometheus_metrics, methods=["GET"])
    return app


@asynccontextmanager
async def health_port(stages: Sequence[Stage], host: str, port: int) -> AsyncIterator[None]:
    """Serve :func:`health_app` on ``host:port`` while the block runs (0 turns it off), and report the
    process's memory, CPU and connections to the deployment's process board (api/procboard.py), from
    which the API's /api/v1/resources answers. The board's Redis and namespace are settings read from
    the environment only (no command flag sets them), so Settings() gives this process's own."""
    settings = Settings()
    sampler = SelfSampler("+".join(stage.name for stage in stages))
    board = ProcessBoard(settings.redis_url, settings.topic_prefix, cluster=settings.redis_cluster)
    async with board, reporting(board, sampler), _serve_health(stages, host, port):
        yield


@asynccontextmanager
async def _serve_health(stages: Sequence[Stage], host: str, port: int) -> AsyncIterator[None]:
    if not port:
        yield
        return
    server = uvicorn.Server(uvicorn.Config(health_app(stages), host=host, port=port, log_config=None,
                                           access_log=False))  # fmt: skip
    task = asyncio.create_task(server.serve())
    log.info("stage health on http://%s:%d/readyz", host, port)
    try:
        yield
    finally:
        server.should_exit = True
        await task
