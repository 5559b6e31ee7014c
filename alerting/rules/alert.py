"""An alert as the rest of the system sees it, and its wire encoding on the ``alerts`` topic.

The evaluator emits an :class:`AlertTransition` for every state change; the stream stage publishes
it (key: :attr:`Alert.key`, rule + group), the notifier and the ClickHouse sink consume it.
Encoding follows :mod:`schemas.wire`: one orjson object with a ``"type"`` and a version, decoded
with validation into :class:`AlertWireError` carrying the reason.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from alerting.rules.state import State

__all__ = [
    "Alert",
    "AlertTransition",
    "AlertWireError",
    "decode_transition",
    "encode_transition",
    "fingerprint",
]

WIRE_TYPE = "alert_transition"
WIRE_VERSION = 1


class AlertWireError(ValueError):
    """A record of the alerts topic that cannot be decoded; the message says why."""


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex-digit identity of a label set (alertname included): equal labels, equal id.

    Used as PagerDuty's ``dedup_key`` and Alertmanager's ``fingerprint``, so a trigger and its
    resolve (even across restarts) name the same incident.
    """
    canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True, eq=False)
class Alert:
    """One alert (one rule, one group) at one moment."""

    rule: str  # the rule's name (also labels["alertname"])
    labels: Mapping[str, str]  # identity: alertname, severity, group labels, rule labels
    group: Mapping[str, str]  # the group's labels alone (the rule's group_by values)
    annotations: Mapping[str, str]  # rendered at the transition
    severity: str  # critical | warning | info
    state: State
    value: float  # the value compared with the threshold (NaN: no data)
    active_at_ms: int | None  # condition holding since, epoch ms
    fired_at_ms: int | None  # firing since, epoch ms
    resolved_at_ms: int | None  # resolved at, epoch ms
    channels: tuple[str, ...] = ()  # the rule's notification channels
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.labels))

    @property
    def key(self) -> str:
        """Kafka key of the alerts topic: the rule and the group, so one alert's records stay ordered."""
        group = ",".join(f"{k}={v}" for k, v in sorted(self.group.items()))
        return f"{self.rule}{{{group}}}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "labels": dict(self.labels),
            "group": dict(self.group),
            "annotations": dict(self.annotations),
            "severity": self.severity,
            "state": self.state.value,
            "value": self.value if math.isfinite(self.value) else None,
            "active_at_ms": self.active_at_ms,
            "fired_at_ms": self.fired_at_ms,
            "resolved_at_ms": self.resolved_at_ms,
            "channels": list(self.channels),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Inverse of :meth:`to_dict`; raises :class:`AlertWireError` naming the bad field."""
        try:
            value = data.get("value")
            return cls(
                rule=_str(data["rule"], "rule"),
                labels=_labels(data["labels"], "labels"),
                group=_labels(data.get("group", {}), "group"),
                annotations=_labels(data.get("annotations", {}), "annotations"),
                severity=_str(data["severity"], "severity"),
                state=State(data["state"]),
                value=math.nan if value is None else float(value),
                active_at_ms=_opt_int(data.get("active_at_ms")),
                fired_at_ms=_opt_int(data.get("fired_at_ms")),
                resolved_at_ms=_opt_int(data.get("resolved_at_ms")),
                channels=tuple(_str(c, "channels") for c in data.get("channels", ())),
                fingerprint=_str(data.get("fingerprint", ""), "fingerprint"),
            )
        except KeyError as exc:
            raise AlertWireError(f"cannot decode alert: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise AlertWireError(f"cannot decode alert: {exc}") from None


@dataclass(frozen=True, slots=True, eq=False)
class AlertTransition:
    """``alert`` changed from ``previous`` to ``alert.state`` at ``at_ms`` (evaluation time, epoch ms)."""

    alert: Alert
    previous: State
    at_ms: int


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise AlertWireError(f"cannot decode alert: {name} must be a string, got {type(value).__name__}")
    return value


def _labels(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise AlertWireError(f"cannot decode alert: {name} must be an object of strings")
    return value


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AlertWireError(f"cannot decode alert: expected an integer time, got {value!r}")
    return value


def encode_transition(transition: AlertTransition) -> bytes:
    """The ``alerts`` topic record of ``transition``."""
    return orjson.dumps(
        {
            "type": WIRE_TYPE,
            "v": WIRE_VERSION,
            "previous": transition.previous.value,
            "at_ms": transition.at_ms,
            "alert": transition.alert.to_dict(),
        }
    )


def decode_transition(data: bytes) -> AlertTransition:
    """Decode an ``alerts`` topic record; raises :class:`AlertWireError` with the reason."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise AlertWireError(f"cannot decode alert transition: invalid JSON ({exc})") from None
    if not isinstance(obj, dict) or obj.get("type") != WIRE_TYPE:
        raise AlertWireError(f"cannot decode alert transition: expected type {WIRE_TYPE!r}")
    if obj.get("v") != WIRE_VERSION:
        raise AlertWireError(f"cannot decode alert transition: unsupported version {obj.get('v')!r}")
    alert = obj.get("alert")
    if not isinstance(alert, dict):
        raise AlertWireError("cannot decode alert transition: 'alert' must be an object")
    try:
        previous = State(str(obj.get("previous")))
    except ValueError:
        raise AlertWireError(
            f"cannot decode alert transition: unknown previous state {obj.get('previous')!r}"
        ) from None
    return AlertTransition(Alert.from_dict(alert), previous, _opt_int(obj.get("at_ms")) or 0)
