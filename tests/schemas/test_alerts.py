"""The alert topics' records: one encoder and one decoder each, every field validated on the way in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from schemas import WireError
from schemas.alerts import (
    State,
    StateEntry,
    StatesRecord,
    TransitionRecord,
    alert_key,
    decode_states,
    decode_transition,
    encode_states,
    encode_transition,
)

TRANSITION = TransitionRecord(
    rule="slow_gateway",
    labels={"alertname": "slow_gateway", "severity": "warning", "service": "gateway"},
    group={"service": "gateway", "route": "/a"},
    annotations={"summary": "p95 above 200 ms"},
    severity="warning",
    state=State.FIRING,
    previous=State.PENDING,
    value=250.5,
    at_ms=1_800_000_003_000,
    active_at_ms=1_800_000_001_000,
    fired_at_ms=1_800_000_003_000,
    resolved_at_ms=None,
    channels=("slack", "pager"),
    fingerprint="0123456789abcdef",
    src_partition=5,
    tick_offset=1_234,
    seq=2,
)
ENTRY = StateEntry(
    rule="slow_gateway",
    group={"service": "gateway", "route": "/a"},
    state=State.FIRING,
    value=None,
    last_eval_ms=1_800_000_004_000,
    active_at_ms=1_800_000_001_000,
    fired_at_ms=1_800_000_003_000,
    resolved_at_ms=None,
    keep_firing_since_ms=1_800_000_004_000,
)
STATES = StatesRecord(src_partition=5, tick_offset=1_240, evaluated_to_ms=1_800_000_004_000, states=(ENTRY,))


def with_field(record: bytes, name: str, value: Any) -> bytes:
    obj = orjson.loads(record)
    if value is _MISSING:
        del obj[name]
    else:
        obj[name] = value
    return orjson.dumps(obj)


_MISSING = object()


def test_a_transition_round_trips_with_its_identity_and_key() -> None:
    decoded = decode_transition(encode_transition(TRANSITION))
    assert decoded == TRANSITION
    assert decoded.identity == (1_234, 2) and decoded.key == b"slow_gateway{route=/a,service=gateway}"
    assert decode_transition(encode_transition(replace(TRANSITION, value=None))).value is None


def test_a_states_snapshot_round_trips_keeping_the_group_order() -> None:
    decoded = decode_states(encode_states(STATES))
    assert decoded == STATES and list(decoded.states[0].group) == ["service", "route"]
    assert decoded.key == b"5"
    empty = StatesRecord(0, 0, None, ())
    assert decode_states(encode_states(empty)) == empty


def test_the_alert_key_sorts_the_group() -> None:
    assert alert_key("r", {"b": "2", "a": "1"}) == "r{a=1,b=2}" == alert_key("r", {"a": "1", "b": "2"})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("type", "alert_record", "type must be 'alert-transition', found 'alert_record'"),
        ("v", 2, "v must be version 1, found 2"),
        ("rule", "", "rule must be a non-empty string, found ''"),
        ("rule", _MISSING, "rule must be a non-empty string, found nothing"),
        ("labels", {"a": 1}, "labels must be an object of strings, found {'a': 1}"),
        ("group", [], r"group must be an object of strings, found \[\]"),
        ("annotations", None, "annotations must be an object of strings, found None"),
        ("severity", 3, "severity must be a non-empty string, found 3"),
        ("state", "exploded", "state must be one of inactive, pending, firing, resolved, found 'exploded'"),
        ("previous", None, "previous must be one of inactive, pending, firing, resolved, found None"),
        ("value", "12", "value must be a finite number or null, found '12'"),
        ("value", True, "value must be a finite number or null, found True"),
        ("at_ms", -1, r"at_ms must be an integer in \[0, 4611686018427387904\), found -1"),
        ("at_ms", 1.5, "at_ms must be an integer"),
        ("active_at_ms", "soon", "active_at_ms must be an integer"),
        ("fired_at_ms", False, "fired_at_ms must be an integer"),
        ("resolved_at_ms", 2**62, "resolved_at_ms must be an integer"),
        ("channels", ["slack", 1], r"channels must be a list of strings, found \['slack', 1\]"),
        ("fingerprint", _MISSING, "fingerprint must be a non-empty string, found nothing"),
        ("src_partition", 70_000, r"src_partition must be an integer in \[0, 65536\), found 70000"),
        ("tick_offset", "7", "tick_offset must be an integer"),
        ("seq", -3, "seq must be an integer"),
    ],
)
def test_every_bad_transition_field_is_named_with_its_value(name: str, value: Any, expected: str) -> None:
    with pytest.raises(WireError, match=f"^cannot decode alert transition: {expected}"):
        decode_transition(with_field(encode_transition(TRANSITION), name, value))


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (b"not json", "invalid JSON"),
        (b"[1]", r"expected a JSON object, found \[1\]"),
        (orjson.dumps({"type": "alert-transition"}), "v must be version 1, found nothing"),
    ],
)
def test_a_record_that_is_no_transition_is_refused(record: bytes, expected: str) -> None:
    with pytest.raises(WireError, match=f"^cannot decode alert transition: {expected}"):
        decode_transition(record)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("rule", None, "rule must be a non-empty string"),
        ("group", {"service": 1}, "group must be an object of strings"),
        ("state", "gone", "state must be one of"),
        ("value", [1.0], "value must be a finite number or null"),
        ("last_eval_ms", None, "last_eval_ms must be an integer"),
        ("keep_firing_since_ms", "x", "keep_firing_since_ms must be an integer"),
    ],
)
def test_every_bad_state_entry_field_is_named_with_its_place(name: str, value: Any, expected: str) -> None:
    obj = orjson.loads(encode_states(STATES))
    obj["states"][0][name] = value
    with pytest.raises(WireError, match=rf"^cannot decode alert states: states\[0\]: {expected}"):
        decode_states(orjson.dumps(obj))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("type", "alert-transition", "type must be 'alert-states'"),
        ("states", {}, "states must be a list, found {}"),
        ("evaluated_to_ms", "late", "evaluated_to_ms must be an integer"),
        ("src_partition", None, "src_partition must be an integer"),
    ],
)
def test_every_bad_states_field_is_named(name: str, value: Any, expected: str) -> None:
    with pytest.raises(WireError, match=f"^cannot decode alert states: {expected}"):
        decode_states(with_field(encode_states(STATES), name, value))
