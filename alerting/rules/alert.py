"""An alert as the rest of the system sees it, and its conversion to and from the alert topics' records.

The evaluator emits an :class:`AlertTransition` for every state change; the stream stage publishes
it as a :class:`~schemas.alerts.TransitionRecord` (:func:`transition_record`), the notifier reads it
back (:func:`transition_from_record`). The stream stage's alert state travels to the worker that
takes a partition over as :class:`~schemas.alerts.StateEntry` items (:func:`state_entry`,
:func:`state_from_entry`). These four functions are the one place alerting's types meet the wire's.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alerting.rules.state import AlertState, State
from schemas.alerts import StateEntry, TransitionRecord, alert_key

if TYPE_CHECKING:
    from alerting.rules.evaluate import AlertKey

__all__ = [
    "Alert",
    "AlertTransition",
    "fingerprint",
    "state_entry",
    "state_from_entry",
    "transition_from_record",
    "transition_record",
]


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
        """The rule and the group (:func:`schemas.alerts.alert_key`), also the Kafka key of its transitions."""
        return alert_key(self.rule, self.group)

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
        """Inverse of :meth:`to_dict` (the notifier's saved state); raises ``ValueError`` naming the bad field."""
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
            raise ValueError(f"cannot read alert: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot read alert: {exc}") from None


@dataclass(frozen=True, slots=True, eq=False)
class AlertTransition:
    """``alert`` changed from ``previous`` to ``alert.state`` at ``at_ms`` (evaluation time, epoch ms)."""

    alert: Alert
    previous: State
    at_ms: int


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _labels(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError(f"{name} must be an object of strings")
    return value


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer time, got {value!r}")
    return value


def transition_record(
    transition: AlertTransition, tick_offset: int, seq: int, src_partition: int = 0
) -> TransitionRecord:
    """The ``alerts`` record of ``transition``, emitted as the ``seq``-th of the tick at ``tick_offset``."""
    alert = transition.alert
    return TransitionRecord(
        rule=alert.rule,
        labels=dict(alert.labels),
        group=dict(alert.group),
        annotations=dict(alert.annotations),
        severity=alert.severity,
        state=alert.state,
        previous=transition.previous,
        value=alert.value if math.isfinite(alert.value) else None,
        at_ms=transition.at_ms,
        active_at_ms=alert.active_at_ms,
        fired_at_ms=alert.fired_at_ms,
        resolved_at_ms=alert.resolved_at_ms,
        channels=alert.channels,
        fingerprint=alert.fingerprint,
        src_partition=src_partition,
        tick_offset=tick_offset,
        seq=seq,
    )


def transition_from_record(record: TransitionRecord) -> AlertTransition:
    """The transition an ``alerts`` record carries (inverse of :func:`transition_record`)."""
    alert = Alert(
        rule=record.rule,
        labels=record.labels,
        group=record.group,
        annotations=record.annotations,
        severity=record.severity,
        state=record.state,
        value=math.nan if record.value is None else record.value,
        active_at_ms=record.active_at_ms,
        fired_at_ms=record.fired_at_ms,
        resolved_at_ms=record.resolved_at_ms,
        channels=record.channels,
        fingerprint=record.fingerprint,
    )
    return AlertTransition(alert, record.previous, record.at_ms)


def state_entry(key: AlertKey, state: AlertState) -> StateEntry:
    """The ``alert-states`` entry of the alert ``key`` (rule, group) in ``state``."""
    rule, group = key
    return StateEntry(
        rule=rule,
        group=dict(group),
        state=state.state,
        value=state.value if math.isfinite(state.value) else None,
        last_eval_ms=state.last_eval_ms,
        active_at_ms=state.active_at_ms,
        fired_at_ms=state.fired_at_ms,
        resolved_at_ms=state.resolved_at_ms,
        keep_firing_since_ms=state.keep_firing_since_ms,
    )


def state_from_entry(entry: StateEntry) -> tuple[AlertKey, AlertState]:
    """The alert key and state an ``alert-states`` entry holds (inverse of :func:`state_entry`)."""
    state = AlertState(
        state=entry.state,
        value=math.nan if entry.value is None else entry.value,
        last_eval_ms=entry.last_eval_ms,
        active_at_ms=entry.active_at_ms,
        fired_at_ms=entry.fired_at_ms,
        resolved_at_ms=entry.resolved_at_ms,
        keep_firing_since_ms=entry.keep_firing_since_ms,
    )
    return (entry.rule, tuple(entry.group.items())), state
