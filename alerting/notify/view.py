"""A read-only view of a notifier's saved state, with the commands it has not applied yet.

The API reads alerts, silences and dead letters through this view, never through a live notifier:
the notifier may run in another process. The view is its newest saved state (saved after every
batch, every send and every command) plus the silence commands queued since, so a silence the API
just created is listed at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from alerting.notify.model import DeadLetter
from alerting.notify.notifier import AlertStatus, Notifier
from alerting.notify.silences import Silence, SilenceError, SilenceState
from schemas.notifier import CommandKind, NotifierCommand

__all__ = ["NotifierView", "state_document"]

log = logging.getLogger("perfpulse.alerting.notify.view")


def state_document(text: str) -> dict[str, Any]:
    """Parse a saved notifier state; ``ValueError`` when it is not one."""
    data = orjson.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("notifier"), dict):
        raise ValueError("a notifier state is an object with a 'notifier' object")
    return data


class _NoSender:
    """The view never sends: a restored notifier needs a sender object all the same."""

    async def send(self, channel: Any, notification: Any) -> list[Any]:
        raise RuntimeError("a notifier view does not send notifications")


class NotifierView:
    """Alerts, silences and dead letters as the notifier last saved them, plus pending silence commands."""

    def __init__(self, state: Mapping[str, Any] | None, pending: Iterable[NotifierCommand] = ()) -> None:
        """``state``: a :func:`state_document` (None: nothing saved yet); ``pending``: commands queued
        after it, in order."""
        self._notifier = Notifier({}, sender=_NoSender())
        self._results: dict[int, Any] = {}
        self.applied_seq = 0
        if state is not None:
            self._notifier.restore(state["notifier"])
            self._results = {int(seq): result for seq, result in state.get("results", {}).items()}
            self.applied_seq = int(state.get("commands", {}).get("applied_seq", 0))
        for command in pending:
            self._apply(command)

    def _apply(self, command: NotifierCommand) -> None:
        try:
            if command.kind is CommandKind.ADD_SILENCE:
                self._notifier.silences.put(Silence.from_dict(command.body))
            elif command.kind is CommandKind.EXPIRE_SILENCE:
                self._notifier.silences.expire(str(command.body["id"]), int(command.body["at_ms"]))
        except (SilenceError, KeyError, TypeError, ValueError) as exc:
            log.warning("command %d cannot be shown as applied: %s", command.seq, exc)

    def alerts(self, now_ms: int) -> list[AlertStatus]:
        return self._notifier.alerts(now_ms)

    def silences(self, now_ms: int, state: SilenceState | None = None) -> list[Silence]:
        return self._notifier.silences.items(now_ms, state)

    def silence(self, silence_id: str) -> Silence | None:
        return self._notifier.silences.get(silence_id)

    def expired(self, silence_id: str, now_ms: int) -> Silence | None:
        """The silence as it is once expired now (None when unknown), without changing the view."""
        silence = self.silence(silence_id)
        if silence is None or silence.state(now_ms) is SilenceState.EXPIRED:
            return silence
        return replace(silence, ends_at_ms=now_ms, starts_at_ms=min(silence.starts_at_ms, now_ms))

    def dead_letters(self) -> list[DeadLetter]:
        return self._notifier.dead_letters()

    def result(self, seq: int) -> Any:
        """What the notifier recorded when it applied command ``seq`` (None: not applied yet)."""
        return self._results.get(seq)
