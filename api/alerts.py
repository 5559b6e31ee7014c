"""``/api/v1/alerts``: active alerts (the notifier's saved view), the transition history (ClickHouse),
delivery attempts per alert, and dead letters with redelivery.

- ``GET /api/v1/alerts`` — pending, firing and recently resolved alerts, firing first, each with
  ``state``, ``since`` (epoch ms it entered that state), ``value``, ``labels``, and what mutes it
  (``silenced_by``: silence ids, ``inhibited_by``: the fingerprint of an inhibiting alert).
- ``GET /api/v1/alerts/history`` — transitions newest first, filtered by rule, fingerprint, state
  and time, paged with ``next_cursor``.
- ``GET /api/v1/alerts/{fingerprint}/attempts`` — the delivery attempts of notifications that
  carried the alert, newest first (targets redacted, errors free of secrets).
- ``GET /api/v1/alerts/deadletters``, ``POST /api/v1/alerts/deadletters/{id}/redeliver``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from alerting.notify.notifier import AlertStatus
from alerting.rules import State
from api.context import ApiContext, api_context
from api.cursor import decode_cursor, encode_cursor
from api.errors import ApiError, error_responses
from api.models_alerts import ActiveAlerts, AlertAttempts, AlertHistory, DeadLetters, Queued, Redelivery
from api.params import csv_param, now_ms, timestamp_param
from schemas.notifier import CommandKind
from storage.alerts import HistoryKey, HistoryQuery, alert_history, attempts_for

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

Context = Annotated[ApiContext, Depends(api_context)]
MAX_LIMIT = 1_000
REDELIVERY_WAIT_S = 30.0  # a redelivery retries with backoff; past this the answer is 202
_STATES = [s.value for s in State]
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


def _states(value: str | None, allowed: list[str]) -> list[str]:
    states = [s.lower() for s in csv_param(value)]
    unknown = [s for s in states if s not in allowed]
    if unknown:
        raise ApiError.bad_param("state", f"unknown states {unknown}; choose from {', '.join(allowed)}")
    return states


def _since(status: AlertStatus) -> int | None:
    alert = status.alert
    if alert.state is State.FIRING:
        return alert.fired_at_ms
    if alert.state is State.RESOLVED:
        return alert.resolved_at_ms
    return alert.active_at_ms


def _fingerprint(value: str, loc: str) -> str:
    if not _FINGERPRINT.fullmatch(value):
        msg = f"{value!r} is not an alert fingerprint (16 lowercase hex digits)"
        raise ApiError(400, "invalid fingerprint", [{"loc": loc, "msg": msg}])
    return value


@router.get(
    "",
    summary="Active alerts: pending, firing and recently resolved",
    response_model=ActiveAlerts,
    responses=error_responses({400: "unknown state"}),
)
async def active_alerts(
    context: Context,
    state: Annotated[
        str | None, Query(description="only these states (comma-separated: pending,firing,resolved)")
    ] = None,
    rule: Annotated[str | None, Query(description="only this rule's alerts")] = None,
) -> dict[str, Any]:
    states = _states(state, ["pending", "firing", "resolved"])
    listed = [
        {**status.to_dict(), "since": _since(status)}
        for status in (await context.notifier.view()).alerts(now_ms())
        if (not states or status.alert.state.value in states) and (rule is None or status.alert.rule == rule)
    ]
    return {"alerts": listed}


def _after(cursor: str | None) -> HistoryKey | None:
    if cursor is None:
        return None
    at, partition, tick, seq = (int(part) for part in decode_cursor("alert-history", cursor, (int, int, int, int)))
    if not (0 <= at < 2**62 and 0 <= partition < 2**16 and 0 <= tick < 2**63 and 0 <= seq < 2**32):
        raise ApiError.bad_param(
            "cursor", "not a cursor of this alert history listing; pass back next_cursor unchanged"
        )
    return at, partition, tick, seq


@router.get(
    "/history",
    summary="Alert transitions, newest first",
    response_model=AlertHistory,
    responses=error_responses({400: "a parameter is invalid (named in details)"}),
)
async def history(
    context: Context,
    rule: Annotated[str | None, Query(description="only this rule's transitions")] = None,
    fingerprint: Annotated[str | None, Query(description="only this alert's transitions")] = None,
    state: Annotated[str | None, Query(description=f"only into these states ({','.join(_STATES)})")] = None,
    since: Annotated[str | None, Query(description="epoch ms or RFC 3339, inclusive")] = None,
    until: Annotated[str | None, Query(description="epoch ms or RFC 3339, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="transitions per page")] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """``at`` is the evaluation time of the transition (a window end), epoch ms."""
    query = HistoryQuery(
        rule=rule,
        fingerprint=_fingerprint(fingerprint, "query.fingerprint") if fingerprint is not None else None,
        states=_states(state, _STATES),
        since_ms=timestamp_param("since", since) if since is not None else None,
        until_ms=timestamp_param("until", until) if until is not None else None,
        limit=limit,
        after=_after(cursor),
    )
    page = await asyncio.to_thread(alert_history, context.store, query)
    return {
        "history": [e.to_dict() for e in page.entries],
        "next_cursor": encode_cursor("alert-history", page.next_key) if page.next_key else None,
    }


@router.get("/deadletters", summary="Notifications that could not be delivered", response_model=DeadLetters)
async def dead_letters(context: Context) -> dict[str, Any]:
    return {"dead_letters": [d.to_dict() for d in (await context.notifier.view()).dead_letters()]}


@router.post(
    "/deadletters/{dead_letter_id}/redeliver",
    summary="Send a dead-lettered notification again",
    response_model=Redelivery,
    responses={
        202: {"model": Queued, "description": "queued; the notifier has not applied it yet"},
        **error_responses({404: "no such dead letter, or its channel is no longer defined"}),
    },
)
async def redeliver(dead_letter_id: str, context: Context) -> Any:
    """The notifier applies the request (it may run in another process); the answer waits up to
    ``REDELIVERY_WAIT_S`` for its outcome. Delivered: the dead letter is gone. Not delivered: it is
    replaced by a new one (``dead_letter``). Still retrying then: 202 with ``queued``."""
    view = await context.notifier.view()
    if not any(d.id == dead_letter_id for d in view.dead_letters()):
        raise ApiError(404, f"no dead letter {dead_letter_id!r}")
    command = await context.notifier.queue(CommandKind.REDELIVER, {"dead_letter_id": dead_letter_id})
    outcome = await context.notifier.outcome(command, REDELIVERY_WAIT_S)
    if outcome is None:
        return JSONResponse({"queued": str(command.seq)}, status_code=202)
    if "error" in outcome:
        raise ApiError(404, str(outcome["error"]))
    return outcome


@router.get(
    "/{fingerprint}/attempts",
    summary="Delivery attempts of an alert's notifications",
    response_model=AlertAttempts,
    responses=error_responses({400: "not an alert fingerprint"}),
)
async def attempts(
    fingerprint: str,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="attempts, newest first")] = 100,
) -> dict[str, Any]:
    found = await asyncio.to_thread(attempts_for, context.store, _fingerprint(fingerprint, "path.fingerprint"), limit)
    return {"fingerprint": fingerprint, "attempts": [a.to_dict() for a in found]}
