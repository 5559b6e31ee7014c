"""Push to a Prometheus Alertmanager (``POST /api/v2/alerts``), as Prometheus itself does.

Alertmanager forgets a firing alert it has not heard of by its ``endsAt``, so firing alerts carry
``endsAt = now + 4 × repeat_interval`` (Prometheus: 4 × its resend delay) and the channel resends
them every ``repeat_interval`` (1 min by default for this channel type). Resolved alerts carry their
resolution time. Alertmanager does its own grouping and routing from there.
"""

from __future__ import annotations

from typing import Any

import orjson

from alerting.notify.channels import AlertmanagerSettings
from alerting.notify.model import HttpRequest, Notification, rfc3339
from alerting.notify.secret import Secret
from alerting.rules.state import State

__all__ = ["alertmanager_alerts", "build_alertmanager"]


def alertmanager_alerts(
    notification: Notification, *, valid_for_ms: int, external_url: str = ""
) -> list[dict[str, Any]]:
    """``postableAlerts`` for ``notification``; firing ones valid for ``valid_for_ms`` from its time."""
    out = []
    for alert in notification.alerts:
        firing = alert.state is State.FIRING
        item: dict[str, Any] = {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": rfc3339(alert.fired_at_ms or alert.active_at_ms or notification.at_ms),
            "endsAt": rfc3339(
                notification.at_ms + valid_for_ms if firing else alert.resolved_at_ms or notification.at_ms
            ),
        }
        if external_url:
            item["generatorURL"] = external_url
        out.append(item)
    return out


def build_alertmanager(
    settings: AlertmanagerSettings, notification: Notification, *, valid_for_ms: int, external_url: str = ""
) -> list[HttpRequest]:
    base = settings.url.reveal().rstrip("/")
    body = orjson.dumps(alertmanager_alerts(notification, valid_for_ms=valid_for_ms, external_url=external_url))
    return [
        HttpRequest(
            Secret(f"{base}/api/v2/alerts"), body, {"Content-Type": "application/json"}, secrets=(settings.url,)
        )
    ]
