"""The frames the live feed sends (WebSocket frames, SSE events' data), as models: documentation for
clients, and the shape tests validate real frames against (unknown fields forbidden)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LiveBatch",
    "LiveClose",
    "LiveError",
    "LiveEvent",
    "LiveGap",
    "LiveHeartbeat",
    "LiveHello",
    "LiveSubscribed",
]

_CURSOR = "<stream>.<seq>: send it back as resume (SSE: Last-Event-ID) to get what followed it"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LiveHello(_Frame):
    type: Literal["hello"]
    cursor: str | None = Field(None, description=f"the stream's position now; {_CURSOR}")
    heartbeat_s: float = Field(description="a heartbeat comes every this many seconds, results flowing or not")
    timeout_s: float = Field(description="a WebSocket client sending nothing this long is closed")
    max_subscriptions: int
    resume_s: float = Field(description="how many seconds of results are kept for resuming")
    resumed: bool | None = Field(None, description="SSE with Last-Event-ID: whether it resumed")
    reason: str | None = Field(None, description="why it could not resume")


class LiveWindow(_Frame):
    start: int = Field(description="epoch ms, inclusive")
    end: int = Field(description="epoch ms, exclusive")


class LiveEvent(_Frame):
    sub: str = Field(description="the client's id of the subscription")
    seq: int = Field(description="this result's number in the stream: increasing, never repeated")
    window: LiveWindow | None = Field(description="the range of the result (null for an alert transition)")
    late: bool = Field(description="a correction: replaces the result sent before for this window")
    stored_at: int = Field(description="when the sink stored it (alerts: when it was read), epoch ms")
    truncated: bool = Field(description="series past 1,000 were left out")
    data: dict[str, Any] = Field(
        description="query: GET /api/v1/query's answer for the window; services: RED per service; "
        "alerts: a transition as in GET /api/v1/alerts/history"
    )


class LiveBatch(_Frame):
    type: Literal["batch"]
    cursor: str = Field(description=_CURSOR)
    events: list[LiveEvent] = Field(description="in sequence order, at most 500")


class LiveHeartbeat(_Frame):
    type: Literal["heartbeat"]
    cursor: str = Field(description=f"every result for this client up to here was sent; {_CURSOR}")


class LiveSubscribed(_Frame):
    type: Literal["subscribed"]
    ids: list[str]
    resumed: bool | None = None
    reason: str | None = None


class LiveError(_Frame):
    type: Literal["error"]
    error: str
    details: list[dict[str, str]] = Field(description="loc (the field) and msg (why)")


class LiveGap(_Frame):
    """The server could not hear stored windows for a while (Redis): results of that time may be
    missing; cursors before ``cursor`` no longer resume."""

    type: Literal["gap"]
    cursor: str = Field(description=_CURSOR)
    reason: str


class LiveClose(_Frame):
    """SSE only (WebSocket says it with its close frame): the stream ends, and why."""

    type: Literal["close"]
    code: int
    reason: str
