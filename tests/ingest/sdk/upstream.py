"""A real upstream for the HTTP client tests: a Starlette app under uvicorn that records the
``traceparent`` of every request, and a local port where nothing listens."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.ingest.helpers import serving


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def upstream(path: str, methods: list[str], status_of: Callable[[str], int]) -> Iterator[tuple[str, list[str | None]]]:
    """Serve ``path`` for ``methods``, answering ``status_of(method)``; yields the base URL and the
    ``traceparent`` headers received, in order."""
    received: list[str | None] = []

    async def answer(request: Request) -> PlainTextResponse:
        received.append(request.headers.get("traceparent"))
        return PlainTextResponse("answer", status_code=status_of(request.method))

    with serving(Starlette(routes=[Route(path, answer, methods=methods)])) as base:
        yield base, received
