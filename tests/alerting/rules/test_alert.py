"""Alerts and their conversion to and from the alert topics' records (schemas/alerts.py)."""

from __future__ import annotations

import math

import pytest

from alerting.rules.alert import (
    Alert,
    AlertTransition,
    fingerprint,
    state_entry,
    state_from_entry,
    transition_from_record,
    transition_record,
)
from alerting.rules.state import AlertState, State
from schemas.alerts import StatesRecord, decode_states, decode_transition, encode_states, encode_transition


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


def test_a_transition_travels_through_its_record_with_a_nan_value() -> None:
    record = transition_record(AlertTransition(alert(), State.PENDING, 2), tick_offset=40, seq=1, src_partition=3)
    assert record.value is None and (record.src_partition, record.identity) == (3, (40, 1))
    assert record.key == alert().key.encode() == b"high_error_rate{service=gateway}"
    decoded = transition_from_record(decode_transition(encode_transition(record)))
    assert math.isnan(decoded.alert.value) and decoded.alert.channels == ("slack",)
    assert decoded.previous is State.PENDING and decoded.at_ms == 2
    assert decoded.alert.to_dict() == alert().to_dict()


def test_an_alert_state_travels_through_its_snapshot_entry() -> None:
    key = ("high_error_rate", (("service", "gateway"), ("route", "/a")))
    state = AlertState(State.FIRING, 0.07, 30, active_at_ms=10, fired_at_ms=20, keep_firing_since_ms=30)
    no_data = AlertState(State.INACTIVE, math.nan, 30)
    snapshot = StatesRecord(0, 5, 30, (state_entry(key, state), state_entry(("other", ()), no_data)))
    restored = dict(state_from_entry(e) for e in decode_states(encode_states(snapshot)).states)
    assert restored[key] == state and list(restored) == [key, ("other", ())]  # group_by order kept
    assert math.isnan(restored[("other", ())].value)


def test_a_saved_alert_reads_back_and_a_bad_one_names_its_field() -> None:
    assert Alert.from_dict(alert().to_dict()).to_dict() == alert().to_dict()
    with pytest.raises(ValueError, match="cannot read alert: labels must be an object of strings"):
        Alert.from_dict({**alert().to_dict(), "labels": {"a": 1}})
    with pytest.raises(ValueError, match="cannot read alert: missing field 'rule'"):
        Alert.from_dict({k: v for k, v in alert().to_dict().items() if k != "rule"})
