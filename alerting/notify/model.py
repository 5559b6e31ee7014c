"""The notifier's nouns: a notification, the HTTP request a channel makes of it, delivery attempts,
outcomes and dead letters. Defined once here and reused by every channel module (Starlette's
``types.py`` habit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from alerting.notify.secret import Secret, redact_url
from alerting.rules.alert import Alert
from alerting.rules.state import State

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "Clock",
    "DeadLetter",
    "Delivery",
    "HttpRequest",
    "Notification",
    "Recorder",
    "rfc3339",
]

Clock = Callable[[], int]  # current time, epoch milliseconds


def rfc3339(ms: int | None) -> str:
    """Epoch ms as RFC 3339 UTC with milliseconds; None as Go's zero time, as Alertmanager writes it."""
    if ms is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, eq=False)
class Notification:
    """What one channel is told about one aggregation group at one flush."""

    id: str  # unique per notification; attempts and dead letters refer to it
    channel: str
    group_key: str  # stable identity of the aggregation group (channel + group labels)
    group_labels: Mapping[str, str]  # the channel's group_by labels and their values
    alerts: tuple[Alert, ...]  # firing ones first; silenced and inhibited alerts already removed
    at_ms: int  # flush time, epoch ms

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.state is State.FIRING)

    @property
    def resolved(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.state is State.RESOLVED)

    @property
    def status(self) -> str:
        """``firing`` when any alert fires, else ``resolved`` (Alertmanager's group status)."""
        return "firing" if self.firing else "resolved"

    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def title(self) -> str:
        """``[FIRING:2] high_response_time (service=gateway)``, as Alertmanager's default titles."""
        head = f"[{self.status.upper()}:{len(self.firing) if self.firing else len(self.resolved)}]"
        names = sorted({a.rule for a in self.alerts})
        where = " ".join(f"{k}={v}" for k, v in sorted(self.group_labels.items()) if k != "alertname" and v)
        return f"{head} {', '.join(names)}{f' ({where})' if where else ''}"

    def summary(self) -> dict[str, Any]:
        """A JSON-able digest for dead letters and history (no secrets: alerts only)."""
        return {
            "id": self.id,
            "channel": self.channel,
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "status": self.status,
            "at_ms": self.at_ms,
            "alerts": [a.to_dict() for a in self.alerts],
        }

    @classmethod
    def from_summary(cls, data: Mapping[str, Any]) -> Notification:
        """Inverse of :meth:`summary` (to restore dead letters); raises ``ValueError`` when malformed."""
        try:
            return cls(
                str(data["id"]),
                str(data["channel"]),
                str(data["group_key"]),
                {str(k): str(v) for k, v in dict(data.get("group_labels", {})).items()},
                tuple(Alert.from_dict(a) for a in data["alerts"]),
                int(data["at_ms"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"cannot read notification: {exc!r}") from None


def _common(maps: list[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


@dataclass(frozen=True, slots=True, eq=False)
class HttpRequest:
    """A request a channel makes: the URL is a secret (it may carry a token), shown only redacted."""

    url: Secret
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    secrets: tuple[Secret, ...] = field(default=(), repr=False)  # values to mask in error texts

    @property
    def target(self) -> str:
        return redact_url(self.url)


class AttemptOutcome(StrEnum):
    """What became of one delivery attempt."""

    DELIVERED = "delivered"  # the receiver answered 2xx (SMTP: accepted the message)
    RETRY = "retry"  # a timeout, connection error or 5xx (SMTP 4xx): another attempt follows
    FAILED = "failed"  # a 4xx (SMTP 5xx) or the last attempt failed: the notification is dead-lettered


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt, as recorded (no secrets: the target is redacted, errors are masked)."""

    notification_id: str
    channel: str
    target: str  # redacted destination: scheme://host:port/ or smtp://host:port
    number: int  # 1-based attempt number
    at_ms: int  # start of the attempt, epoch ms
    duration_ms: int  # until the answer or the error
    outcome: AttemptOutcome
    status_code: int | None = None  # HTTP status, or SMTP reply code
    error: str | None = None  # why it did not succeed
    next_delay_ms: int | None = None  # backoff before the next attempt, when one follows

    def to_dict(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "channel": self.channel,
            "target": self.target,
            "number": self.number,
            "at_ms": self.at_ms,
            "duration_ms": self.duration_ms,
            "outcome": self.outcome.value,
            "status_code": self.status_code,
            "error": self.error,
            "next_delay_ms": self.next_delay_ms,
        }


Recorder = Callable[[Attempt], None]  # receives every attempt (history, metrics); must not block


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of delivering one request: delivered, or not after ``attempts`` attempts."""

    delivered: bool
    attempts: int
    target: str
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class DeadLetter:
    """A notification that could not be delivered, kept for inspection (and redelivery)."""

    id: str
    notification: Notification
    target: str
    attempts: int
    reason: str
    at_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.notification.channel,
            "target": self.target,
            "attempts": self.attempts,
            "reason": self.reason,
            "at_ms": self.at_ms,
            "notification": self.notification.summary(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadLetter:
        """Inverse of :meth:`to_dict` (dead letters survive a restart); raises ``ValueError`` when malformed."""
        try:
            return cls(
                str(data["id"]),
                Notification.from_summary(data["notification"]),
                str(data["target"]),
                int(data["attempts"]),
                str(data["reason"]),
                int(data["at_ms"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"cannot read dead letter: {exc!r}") from None
