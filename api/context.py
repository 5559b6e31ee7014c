"""What the API's routes need, set on ``app.state.api`` by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from storage import Store

__all__ = ["ApiContext", "api_context"]


@dataclass
class ApiContext:
    store: Store
    window_ms: int  # the stream stage's window: query steps must be multiples of it
    kafka_ready: Callable[[], Awaitable[bool]]  # readiness probe of the Kafka connection


def api_context(request: Request) -> ApiContext:
    """FastAPI dependency: the context the composition root installed."""
    context: ApiContext = request.app.state.api
    return context
