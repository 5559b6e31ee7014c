"""Rows the notifier stage and the API exchange through ClickHouse tables.

The notifier stage may run in its own process: it writes delivery attempts (``AttemptRow``) and its
saved state, and reads the commands (``NotifierCommand``) the API queues for it: silences created or
expired and dead letters to redeliver. Storage reads and writes these rows; neither side imports
the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["AttemptRow", "CommandKind", "NotifierCommand"]


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One delivery attempt of a notification, as it concerns one alert the notification carried."""

    fingerprint: str  # the alert
    rule: str
    channel: str
    notification_id: str
    group_key: str  # the aggregation group notified
    target: str  # redacted destination (scheme://host:port/); never a secret
    number: int  # 1-based attempt number
    at_ms: int  # start of the attempt
    duration_ms: int
    outcome: str  # delivered | retry | failed
    status_code: int | None  # HTTP status or SMTP reply code
    error: str  # why it did not succeed ('' when it did); free of secrets
    next_delay_ms: int | None  # backoff before the next attempt, when one follows
    dead_lettered: bool  # this attempt ended the notification undelivered

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at_ms,
            "channel": self.channel,
            "rule": self.rule,
            "notification_id": self.notification_id,
            "group_key": self.group_key,
            "target": self.target,
            "number": self.number,
            "duration_ms": self.duration_ms,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "error": self.error or None,
            "next_delay_ms": self.next_delay_ms,
            "dead_lettered": self.dead_lettered,
        }


class CommandKind(StrEnum):
    """What the API asks of the notifier."""

    ADD_SILENCE = "add_silence"  # body: the silence (Silence.to_dict form, id chosen by the API)
    EXPIRE_SILENCE = "expire_silence"  # body: {"id", "at_ms"}
    REDELIVER = "redeliver"  # body: {"dead_letter_id"}


@dataclass(frozen=True, slots=True)
class NotifierCommand:
    """One request from the API to the notifier, applied once, in ``seq`` order."""

    seq: int  # position in the command log: the notifier applies each seq once, in order
    kind: CommandKind
    body: dict[str, Any]  # JSON object; its keys depend on ``kind``
    at_ms: int  # when the API queued it
