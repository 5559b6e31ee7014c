"""``/api/v1/silences``: create, list, read and expire silences (Alertmanager's meaning).

A silence mutes notifications of the alerts its matchers select while ``starts_at <= now <
ends_at``; muted alerts stay listed by ``GET /api/v1/alerts`` with ``silenced_by``. A change is
queued in storage before the answer (durable from then on) and applied by the notifier stage within
a second, wherever it runs; listings show it at once. Expiring (``DELETE``) ends a silence now;
expired silences stay listed for a day.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from alerting.notify.silences import SilenceError, SilenceState, new_silence
from alerting.rules import LabelMatcher, MatchOp
from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.models_alerts import SilenceList, SilenceOut
from api.params import now_ms, timestamp_param
from schemas import parse_duration_ms
from schemas.notifier import CommandKind
from storage import StoreError

__all__ = ["MAX_SILENCES", "MatcherBody", "SilenceBody", "router"]

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])

Context = Annotated[ApiContext, Depends(api_context)]
# Every text is bounded; a bounded str is read by pydantic as UTF-8, which refuses lone surrogates
# (they could not be saved: the notifier's state is UTF-8 JSON).
Time = int | Annotated[str, StringConstraints(max_length=64)]  # epoch ms or RFC 3339
Label = Annotated[str, StringConstraints(max_length=1024)]
Text = Annotated[str, StringConstraints(max_length=1024)]
MAX_MATCHERS = 32
# Silences the notifier holds at once (pending, active, and expired within the day it keeps them): it
# saves them all in its state, at most ~35 KB each (32 matchers of 1 KB, a 1 KB comment).
MAX_SILENCES = 1_000
_NO_SILENCE = "no silence has this id"
_UNSAVED = "storage unavailable: the change was not queued"


class MatcherBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(max_length=100)]
    op: str = Field("=", description="=, !=, =~ or !~", max_length=2)
    value: Label


class SilenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: (
        Annotated[str, StringConstraints(max_length=4096)]
        | Annotated[list[MatcherBody], Field(max_length=MAX_MATCHERS)]
    ) = Field(description='text such as \'service="gateway", alertname=~"high_.*"\', or a list of {name, op, value}')
    starts_at: Time | None = Field(None, description="epoch ms or RFC 3339; default now")
    ends_at: Time | None = Field(None, description="epoch ms or RFC 3339; or give duration")
    duration: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="e.g. 2h: ends_at = starts_at + duration"
    )
    comment: Text
    created_by: Annotated[str, StringConstraints(max_length=200)]


def _matchers(body: SilenceBody) -> str | list[LabelMatcher]:
    if isinstance(body.matchers, str):
        return body.matchers
    out = []
    for i, m in enumerate(body.matchers):
        try:
            out.append(LabelMatcher.of(m.name, MatchOp(m.op), m.value))
        except ValueError as exc:
            raise ApiError(400, "invalid matcher", [{"loc": f"body.matchers.{i}", "msg": str(exc)}]) from None
    return out


def _view(silence: Any, now: int) -> dict[str, Any]:
    out: dict[str, Any] = silence.to_dict(now)
    out["created_by"] = silence.creator
    return out


async def _queue(context: ApiContext, kind: CommandKind, body: dict[str, Any]) -> None:
    try:
        await context.notifier.queue(kind, body)
    except StoreError as exc:
        raise ApiError(503, f"cannot save the silence: {exc}") from None


@router.get(
    "",
    summary="Silences, soonest ending first",
    response_model=SilenceList,
    responses=error_responses({400: "unknown state"}),
)
async def list_silences(
    context: Context,
    state: Annotated[str | None, Query(description="only pending, active or expired ones")] = None,
) -> dict[str, Any]:
    wanted = None
    if state is not None:
        try:
            wanted = SilenceState(state)
        except ValueError:
            raise ApiError.bad_param("state", "choose from pending, active, expired") from None
    now = now_ms()
    return {"silences": [_view(s, now) for s in (await context.notifier.view()).silences(now, wanted)]}


@router.get(
    "/{silence_id}", summary="One silence", response_model=SilenceOut, responses=error_responses({404: _NO_SILENCE})
)
async def get_silence(silence_id: str, context: Context) -> dict[str, Any]:
    silence = (await context.notifier.view()).silence(silence_id)
    if silence is None:
        raise ApiError(404, f"no silence {silence_id!r}")
    return _view(silence, now_ms())


@router.post(
    "",
    status_code=201,
    summary="Create a silence",
    response_model=SilenceOut,
    responses=error_responses(
        {400: "an invalid body, matcher, time or duration (named in details), or too many silences held", 503: _UNSAVED}
    ),
)
async def create_silence(body: SilenceBody, context: Context) -> dict[str, Any]:
    now = now_ms()
    starts = timestamp_param("starts_at", body.starts_at, body=True) if body.starts_at is not None else now
    if (body.ends_at is None) == (body.duration is None):
        raise ApiError(400, "give exactly one of 'ends_at' and 'duration'", [{"loc": "body.ends_at", "msg": "missing"}])
    if body.ends_at is not None:
        ends = timestamp_param("ends_at", body.ends_at, body=True)
    else:
        assert body.duration is not None
        try:
            ends = starts + parse_duration_ms(body.duration)
        except ValueError as exc:
            raise ApiError(400, "invalid duration", [{"loc": "body.duration", "msg": str(exc)}]) from None
    try:
        silence = new_silence(str(uuid.uuid4()), _matchers(body), starts, ends, body.comment, body.created_by, now)
    except SilenceError as exc:
        raise ApiError(400, "invalid silence", [{"loc": "body", "msg": str(exc)}]) from None
    if (held := len((await context.notifier.view()).silences(now))) >= MAX_SILENCES:
        msg = f"{held} silences are held (pending, active or expired today), the limit is {MAX_SILENCES}"
        raise ApiError(400, "too many silences", [{"loc": "body", "msg": msg}])
    await _queue(context, CommandKind.ADD_SILENCE, silence.to_dict())
    return _view(silence, now)


@router.delete(
    "/{silence_id}",
    summary="Expire a silence now",
    response_model=SilenceOut,
    responses=error_responses({404: _NO_SILENCE, 503: _UNSAVED}),
)
async def expire_silence(silence_id: str, context: Context) -> dict[str, Any]:
    now = now_ms()
    silence = (await context.notifier.view()).expired(silence_id, now)
    if silence is None:
        raise ApiError(404, f"no silence {silence_id!r}")
    await _queue(context, CommandKind.EXPIRE_SILENCE, {"id": silence_id, "at_ms": now})
    return _view(silence, now)
