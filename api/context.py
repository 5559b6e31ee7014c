"""What the API's routes need, set on ``app.state.api`` by the composition root."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import Request

from alerting.rules import RulesWatcher
from api.notifier import NotifierAccess
from schemas.stage import Health
from storage import Store

__all__ = ["ApiContext", "api_context"]


@dataclass
class ApiContext:
    store: Store
    window_ms: int  # the stream stage's window: query steps must be multiples of it
    kafka_ready: Callable[[], Awaitable[bool]]  # readiness probe of the Kafka connection
    rules: RulesWatcher  # the rules file the rules API reads and edits
    notifier: NotifierAccess  # the notifier stage's saved state and command queue
    stages: Callable[[], list[Health]] = list  # health of the stages running in this process
    rules_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one edit of the rules file at a time
    channel_env: Mapping[str, str] = field(default_factory=dict)  # resolves ${VAR} in channels listed by the rules API


async def api_context(request: Request) -> ApiContext:
    """FastAPI dependency: the context the composition root installed (async: FastAPI would run a
    plain function in its thread pool, a thread hop per request for reading an attribute)."""
    context: ApiContext = request.app.state.api
    return context
