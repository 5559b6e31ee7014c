"""OTLP/HTTP on its own port (4318, OpenTelemetry's default) beside the API, in the same process:
one producer, one redactor and one store of cumulative-sum baselines for both ports."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

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
async def otlp_port(context: IngestContext, host: str, port: int) -> AsyncIterator[None]:
    """Serve the OTLP receiver on ``host:port`` while the block runs; 0 turns it off. A port in use
    is reported and skipped (OTLP stays available under the API's own port, at /v1/...)."""
    if not port:
        yield
        return
    if not _bindable(host, port):
        log.warning("OTLP port %s:%d is in use; OTLP is served on the API port only (/v1/traces ...)", host, port)
        yield
        return
    config = uvicorn.Config(create_otlp_app(context), host=host, port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    log.info("OTLP/HTTP receiver on http://%s:%d", host, port)
    try:
        yield
    finally:
        server.should_exit = True
        await task
