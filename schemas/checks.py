"""Field checks shared by the HTTP models and the Kafka wire decoder.

Each check returns ``None`` when the value is acceptable, else a reason that names the value.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.limits import (
    LABEL_KEY_PATTERN,
    METRIC_NAME_PATTERN,
    RESERVED_LABELS,
    SERVICE_PATTERN,
    Limits,
    check_epoch_ms,
)

__all__ = ["check_labels", "check_metric_name", "check_service", "check_timestamp"]


def check_service(service: object, limits: Limits) -> str | None:
    if not isinstance(service, str) or not service:
        return f"service must be a non-empty string, got {service!r}"
    if len(service) > limits.max_service_length:
        return f"service is {len(service)} characters long, the limit is {limits.max_service_length}"
    if not SERVICE_PATTERN.match(service):
        return f"service {service!r} has characters outside [A-Za-z0-9_.:/-]"
    return None


def check_metric_name(name: object, limits: Limits) -> str | None:
    if not isinstance(name, str) or not name:
        return f"name must be a non-empty string, got {name!r}"
    if len(name) > limits.max_name_length:
        return f"name is {len(name)} characters long, the limit is {limits.max_name_length}"
    if not METRIC_NAME_PATTERN.match(name):
        return f"name {name!r} must start with a letter or '_' and use only [A-Za-z0-9_.:/-]"
    return None


def check_labels(labels: object, limits: Limits) -> str | None:
    """Check a merged label set (envelope labels plus point labels)."""
    if not isinstance(labels, Mapping):
        return f"labels must be an object of strings, got {type(labels).__name__}"
    if len(labels) > limits.max_labels:
        return f"{len(labels)} labels, the limit is {limits.max_labels}"
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_KEY_PATTERN.match(key):
            return f"label name {key!r} must start with a letter or '_' and use only [A-Za-z0-9_.-]"
        if key in RESERVED_LABELS:
            return f"label name {key!r} is reserved (it is the envelope's service)"
        if len(key) > limits.max_label_key_length:
            return f"label name {key[:40]!r}... is longer than {limits.max_label_key_length} characters"
        if not isinstance(value, str):
            return f"label {key!r} must be a string, got {type(value).__name__}"
        if len(value) > limits.max_label_value_length:
            return f"label {key!r} value is longer than {limits.max_label_value_length} characters"
    return None


def check_timestamp(ts_ms: int, now_ms: int, limits: Limits) -> str | None:
    """Accept timestamps from ``limits.max_past_ms`` before ``now_ms`` to ``max_future_ms`` after."""
    if now_ms - limits.max_past_ms <= ts_ms <= now_ms + limits.max_future_ms:
        return None
    if (problem := check_epoch_ms(ts_ms)) is not None:  # a number past a float cannot be told in hours
        return problem
    if ts_ms < now_ms:
        return (
            f"timestamp {ts_ms} is {(now_ms - ts_ms) / 3_600_000:.1f} h in the past; "
            f"the limit is {limits.max_past_ms / 3_600_000:g} h"
        )
    return (
        f"timestamp {ts_ms} is {(ts_ms - now_ms) / 60_000:.1f} min in the future; "
        f"the limit is {limits.max_future_ms / 60_000:g} min"
    )
