"""What the API's routes need, set on ``app.state.api`` by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from alerting.notify.stage import AlertingService
from api.errors import ApiError
from storage import Store

__all__ = ["ApiContext", "alerting_service", "api_context"]


@dataclass
class ApiContext:
    store: Store
    window_ms: int  # the stream stage's window: query steps must be multiples of it
    kafka_ready: Callable[[], Awaitable[bool]]  # readiness probe of the Kafka connection
    alerting: AlertingService | None = None  # the notifier and rules of this process (None: not running)


def api_context(request: Request) -> ApiContext:
    """FastAPI dependency: the context the composition root installed."""
    context: ApiContext = request.app.state.api
    return context


def alerting_service(request: Request) -> AlertingService:
    """FastAPI dependency: the alerting service; 503 when this process runs none."""
    service = api_context(request).alerting
    if service is None:
        raise ApiError(503, "alerting is not running in this API process (started without a notifier)")
    return service
