from __future__ import annotations

import math

import orjson
import pytest

from alerting.rules.alert import (
    Alert,
    AlertTransition,
    AlertWireError,
    decode_transition,
    encode_transition,
    fingerprint,
)
from alerting.rules.state import State


def alert(**overrides: object) -> Alert:
    fields: dict[str, object] = {
        "rule": "high_error_rate",
        "labels": {"alertname": "high_error_rate", "severity": "critical", "service": "gateway"},
        "group": {"service": "gateway"},
        "annotations": {"summary": "5% errors"},
        "severity": "critical",
        "state": State.FIRING,
        "value": math.nan,
        "active_at_ms": 1,
        "fired_at_ms": 2,
        "resolved_at_ms": None,
        "channels": ("slack",),
    }
    fields.update(overrides)
    return Alert(**fields)  # type: ignore[arg-type]


def test_fingerprint_is_stable_and_order_free() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})
    assert alert().fingerprint == fingerprint(alert().labels) and len(alert().fingerprint) == 16


def test_round_trip_with_nan_value() -> None:
    decoded = decode_transition(encode_transition(AlertTransition(alert(), State.PENDING, 2)))
    assert math.isnan(decoded.alert.value) and decoded.alert.channels == ("slack",)
    assert decoded.previous is State.PENDING and decoded.alert.key == "high_error_rate{service=gateway}"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b"not json", "invalid JSON"),
        (b"[]", "expected type 'alert_transition'"),
        (b'{"type": "alert_transition", "v": 9}', "unsupported version 9"),
        (b'{"type": "alert_transition", "v": 1, "alert": 3}', "'alert' must be an object"),
        (b'{"type": "alert_transition", "v": 1, "alert": {}, "previous": "gone"}', "unknown previous state"),
    ],
)
def test_bad_records_are_refused_with_the_reason(record: bytes, reason: str) -> None:
    with pytest.raises(AlertWireError, match=reason):
        decode_transition(record)


def test_bad_alert_fields() -> None:
    good = orjson.loads(encode_transition(AlertTransition(alert(), State.PENDING, 2)))
    good["alert"]["labels"] = {"a": 1}
    with pytest.raises(AlertWireError, match="labels must be an object of strings"):
        decode_transition(orjson.dumps(good))
    del good["alert"]["labels"]
    with pytest.raises(AlertWireError, match="missing field 'labels'"):
        decode_transition(orjson.dumps(good))
