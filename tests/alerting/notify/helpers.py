"""Builders of alerts and notifications for the notifier tests."""

from __future__ import annotations

import textwrap

from alerting.notify.channels import Channel
from alerting.notify.channelsfile import parse_channels
from alerting.notify.model import Notification
from alerting.rules.alert import Alert, AlertTransition
from alerting.rules.state import State

T0 = 1_700_000_000_000


def make_alert(
    rule: str = "high_response_time",
    service: str = "gateway",
    state: State = State.FIRING,
    severity: str = "warning",
    value: float = 250.0,
    channels: tuple[str, ...] = ("hook",),
    fired_at_ms: int = T0,
    resolved_at_ms: int | None = None,
    extra: dict[str, str] | None = None,
) -> Alert:
    group = {"service": service}
    labels = {"alertname": rule, "severity": severity, **group, **(extra or {})}
    return Alert(
        rule=rule,
        labels=labels,
        group=group,
        annotations={"summary": f"{rule} on {service}: {value:g}"},
        severity=severity,
        state=state,
        value=value,
        active_at_ms=fired_at_ms,
        fired_at_ms=fired_at_ms,
        resolved_at_ms=resolved_at_ms if state is not State.RESOLVED else (resolved_at_ms or fired_at_ms + 60_000),
        channels=channels,
    )


def fire(alert: Alert, previous: State = State.PENDING) -> AlertTransition:
    return AlertTransition(alert, previous, alert.fired_at_ms or T0)


def resolve(alert: Alert, at_ms: int) -> AlertTransition:
    resolved = make_alert(
        alert.rule,
        alert.group["service"],
        State.RESOLVED,
        alert.severity,
        90.0,
        alert.channels,
        alert.fired_at_ms or T0,
        at_ms,
    )
    return AlertTransition(resolved, State.FIRING, at_ms)


def make_notification(*alerts: Alert, channel: str = "hook", at_ms: int = T0 + 1_000) -> Notification:
    labels = {"alertname": alerts[0].rule, "service": alerts[0].group["service"]}
    key = f'{channel}:{{alertname="{labels["alertname"]}", service="{labels["service"]}"}}'
    return Notification("n1", channel, key, labels, tuple(alerts), at_ms)


def channels(text: str, env: dict[str, str] | None = None) -> dict[str, Channel]:
    """Channels of a rules file made of ``text`` (the ``channels:`` mapping body) and no rules."""
    result = parse_channels(f"channels:\n{textwrap.indent(textwrap.dedent(text), '  ')}alerts: []\n", env=env or {})
    assert result.channels is not None, [str(e) for e in result.errors]
    return dict(result.channels)
