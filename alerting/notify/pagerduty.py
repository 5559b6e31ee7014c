"""PagerDuty Events API v2: one event per alert, ``trigger`` while firing and ``resolve`` after.

The ``dedup_key`` is the alert's rule and group (``high_error_rate{service=gateway}``), stable across
restarts and rule edits that keep the group, so a resolve closes the incident its trigger opened and
a repeated trigger updates it instead of opening another.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from alerting.notify.channels import PagerDutySettings
from alerting.notify.model import HttpRequest, Notification, rfc3339
from alerting.notify.secret import Secret
from alerting.rules.alert import Alert
from alerting.rules.state import State

__all__ = ["build_pagerduty", "dedup_key", "pagerduty_event"]

_SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}  # PD also has "error"
_MAX_KEY = 255
_MAX_SUMMARY = 1024


def dedup_key(alert: Alert) -> str:
    """``<rule>{<group labels>}``, hashed when longer than PagerDuty's 255 characters."""
    key = alert.key
    if len(key) <= _MAX_KEY:
        return key
    return f"{alert.rule[:200]}#{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def pagerduty_event(routing_key: Secret, alert: Alert, *, external_url: str = "") -> dict[str, Any]:
    """The event for ``alert``: trigger when firing, resolve otherwise."""
    event: dict[str, Any] = {
        "routing_key": routing_key.reveal(),
        "dedup_key": dedup_key(alert),
        "event_action": "trigger" if alert.state is State.FIRING else "resolve",
    }
    if alert.state is not State.FIRING:
        return event
    event["payload"] = {
        "summary": alert.annotations.get("summary", alert.rule)[:_MAX_SUMMARY],
        "source": alert.group.get("service") or "perfpulse",
        "severity": _SEVERITIES.get(alert.severity, "warning"),
        "timestamp": rfc3339(alert.fired_at_ms or alert.active_at_ms),
        "class": alert.rule,
        "custom_details": {"value": alert.value, "labels": dict(alert.labels), "annotations": dict(alert.annotations)},
    }
    if alert.group.get("service"):
        event["payload"]["component"] = alert.group["service"]
    event["client"] = "perfpulse"
    if external_url:
        event["client_url"] = external_url
    return event


def build_pagerduty(
    settings: PagerDutySettings, notification: Notification, *, external_url: str = ""
) -> list[HttpRequest]:
    return [
        HttpRequest(
            Secret(settings.url),
            orjson.dumps(pagerduty_event(settings.routing_key, alert, external_url=external_url)),
            {"Content-Type": "application/json"},
            secrets=(settings.routing_key,),
        )
        for alert in notification.alerts
    ]
