"""Slack incoming webhook: one message per notification, one colored attachment per alert."""

from __future__ import annotations

from typing import Any

import orjson

from alerting.notify.channels import SlackSettings
from alerting.notify.model import HttpRequest, Notification
from alerting.rules.alert import Alert
from alerting.rules.state import State

__all__ = ["build_slack", "slack_payload"]

_COLORS = {"critical": "#d63232", "warning": "#e8a33d", "info": "#439fe0"}
_RESOLVED_COLOR = "#2eb67d"
_MAX_ATTACHMENTS = 20  # Slack truncates long messages; the rest is counted in the text


def _attachment(alert: Alert) -> dict[str, Any]:
    firing = alert.state is State.FIRING
    group = ", ".join(f"{k}={v}" for k, v in sorted(alert.group.items()))
    fields = [
        {"title": k, "value": v, "short": len(v) < 40} for k, v in sorted(alert.annotations.items()) if k != "summary"
    ]
    return {
        "color": _COLORS.get(alert.severity, _COLORS["warning"]) if firing else _RESOLVED_COLOR,
        "fallback": alert.annotations.get("summary", alert.rule),
        "title": f"{'🔥' if firing else '✅'} {alert.rule}{f' ({group})' if group else ''} — {alert.state.value}",
        "text": alert.annotations.get("summary", ""),
        "fields": [*fields, {"title": "severity", "value": alert.severity, "short": True}],
        "footer": "perfpulse",
        "ts": (alert.resolved_at_ms if not firing and alert.resolved_at_ms else alert.fired_at_ms or 0) // 1000,
    }


def slack_payload(settings: SlackSettings, notification: Notification) -> dict[str, Any]:
    alerts = notification.alerts
    text = notification.title()
    if len(alerts) > _MAX_ATTACHMENTS:
        text += f" — showing {_MAX_ATTACHMENTS} of {len(alerts)} alerts"
    payload: dict[str, Any] = {"text": text, "attachments": [_attachment(a) for a in alerts[:_MAX_ATTACHMENTS]]}
    if settings.channel:
        payload["channel"] = settings.channel
    if settings.username:
        payload["username"] = settings.username
    return payload


def build_slack(settings: SlackSettings, notification: Notification) -> list[HttpRequest]:
    body = orjson.dumps(slack_payload(settings, notification))
    return [HttpRequest(settings.url, body, {"Content-Type": "application/json"})]
