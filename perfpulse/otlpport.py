"""OTLP/HTTP on its own port (4318, OpenTelemetry's default) beside the API, in the same process:
one producer, one redactor and one store of cumulative-sum baselines for both ports."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from ingest.receivers.http import IngestContext
from ingest.receivers.otlp import create_otlp_app

__all__ = ["otlp_port"]

log = logging.getLogger("perfpulse.otlp")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@asynccontextmanager
async def otlp_port(
    context: IngestContext,
    host: str,
    port: int,
    *,
    guard: Callable[[ASGIApp], ASGIApp] | None = None,
    tls: Mapping[str, Any] | None = None,
) -> AsyncIterator[None]:
    """Serve the OTLP receiver on ``host:port`` while the block runs; 0 turns it off. A port in use
    is reported and skipped (OTLP stays available under the API's own port, at /v1/...). ``guard``
    puts the API's access policy in front of it; ``tls``: uvicorn's ssl options, for HTTPS."""
    if not port:
        yield
        return
    if not _bindable(host, port):
        log.warning("OTLP port %s:%d is in use; OTLP is served on the API port only (/v1/traces ...)", host, port)
        yield
        return
    app: ASGIApp = create_otlp_app(context)
    if guard is not None:
        app = guard(app)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, **(tls or {}))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    log.info("OTLP/HTTP receiver on %s://%s:%d", "https" if tls else "http", host, port)
    try:
        yield
    finally:
        server.should_exit = True
        await task
