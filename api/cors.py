"""CORS for the ingest endpoints only: a web page on a listed origin may send its Web Vitals (the
browser SDK) straight to ``/api/v1/ingest/*`` with an ingest key.

Nothing else is opened to other origins: reads, writes and the live feed answer without CORS headers,
so a page cannot read data through a visitor's browser even from a listed origin. A preflight
(``OPTIONS`` with ``Access-Control-Request-Method``) of a listed origin is answered here, before
authentication (a browser sends it without the ``Authorization`` header); the request that follows
goes through authentication, scopes and rate limits as any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["INGEST_PREFIX", "IngestCors"]

INGEST_PREFIX = "/api/v1/ingest/"
_MAX_AGE_S = 600  # how long a browser may reuse a preflight's answer


class IngestCors:
    """``app`` with CORS for ``origins`` (exact ``scheme://host[:port]`` values) on ingest paths."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=["authorization", "content-type", "content-encoding"],
            max_age=_MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(INGEST_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
