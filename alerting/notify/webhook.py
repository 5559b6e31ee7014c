"""Generic webhook: Alertmanager's webhook v4 JSON, so receivers written for Alertmanager work as is,
signed with HMAC-SHA256 when the channel has a ``secret``.

Signature header (Stripe's scheme): ``X-Perfpulse-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>.<body>")``. The timestamp is signed too, so a captured request
cannot be replayed later than the receiver's tolerance; :func:`verify_signature` is the receiver side.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from alerting.notify.channels import WebhookSettings
from alerting.notify.model import HttpRequest, Notification, rfc3339
from alerting.notify.secret import Secret
from alerting.rules.state import State

__all__ = ["SIGNATURE_HEADER", "build_webhook", "sign", "verify_signature", "webhook_payload"]

SIGNATURE_HEADER = "X-Perfpulse-Signature"


def webhook_payload(notification: Notification, *, external_url: str = "") -> dict[str, Any]:
    """The Alertmanager webhook v4 body of ``notification``."""
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": notification.status,
        "receiver": notification.channel,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": notification.common_labels(),
        "commonAnnotations": notification.common_annotations(),
        "externalURL": external_url,
        "alerts": [
            {
                "status": "firing" if alert.state is State.FIRING else "resolved",
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "startsAt": rfc3339(alert.fired_at_ms or alert.active_at_ms),
                "endsAt": rfc3339(alert.resolved_at_ms if alert.state is State.RESOLVED else None),
                "generatorURL": external_url,
                "fingerprint": alert.fingerprint,
            }
            for alert in notification.alerts
        ],
    }


def sign(secret: Secret | str, body: bytes, unix_seconds: int) -> str:
    """The signature header value for ``body`` sent at ``unix_seconds``."""
    key = (secret.reveal() if isinstance(secret, Secret) else secret).encode()
    digest = hmac.new(key, str(unix_seconds).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={unix_seconds},v1={digest}"


def verify_signature(secret: Secret | str, header: str, body: bytes, now_s: int, *, tolerance_s: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance_s`` of now."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))


def build_webhook(
    settings: WebhookSettings, notification: Notification, *, external_url: str = ""
) -> list[HttpRequest]:
    body = orjson.dumps(webhook_payload(notification, external_url=external_url))
    headers = {"Content-Type": "application/json", "User-Agent": "perfpulse-alerting"}
    secrets: tuple[Secret, ...] = ()
    if settings.secret:
        headers[SIGNATURE_HEADER] = sign(settings.secret, body, notification.at_ms // 1000)
        secrets = (settings.secret,)
    return [HttpRequest(settings.url, body, headers, secrets=secrets)]
