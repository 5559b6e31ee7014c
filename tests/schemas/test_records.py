"""Record types: the header names a record's type; records written without it are named by their JSON type."""

from __future__ import annotations

import pytest

from schemas import (
    TYPE_HEADER,
    RecordType,
    encode_deadletter,
    encode_logs,
    encode_rollups,
    encode_spans,
    encode_tick,
    record_type,
    type_headers,
    unreadable_reason,
)
from schemas.alerts import StatesRecord, encode_states
from schemas.wire import DeadLetter, RollupBatch


def test_the_header_names_the_type_whatever_the_value() -> None:
    headers = type_headers(RecordType.ALERT_TRANSITION)
    assert headers == [(TYPE_HEADER, b"alert-transition")]
    assert record_type(headers, b"not even json") is RecordType.ALERT_TRANSITION
    assert record_type({TYPE_HEADER: b"tick"}, b"") is RecordType.TICK  # Faust may hand over a mapping
    assert record_type([("other", b"x"), (TYPE_HEADER, b"spans")], encode_tick(1)) is RecordType.SPANS


def test_an_unknown_header_value_is_no_type_even_when_the_body_names_one() -> None:
    assert record_type([(TYPE_HEADER, b"gauges")], encode_tick(1)) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (encode_tick(1_800_000_000_000), RecordType.TICK),
        (encode_spans([]), RecordType.SPANS),
        (encode_logs([]), RecordType.LOGS),
        (encode_rollups(RollupBatch(0, 1, 0)), RecordType.ROLLUPS),
        (encode_deadletter(DeadLetter("t", 0, 1, "stream", "bad", b"x", 1)), RecordType.DEADLETTER),
        (encode_states(StatesRecord(0, 1, None, ())), RecordType.ALERT_STATES),
        (b' { "type" : "metrics", "v": 1}', RecordType.METRICS),
    ],
)
def test_a_record_without_the_header_is_named_by_its_json_type(value: bytes, expected: RecordType) -> None:
    assert record_type([], value) is expected
    assert record_type(None, value) is expected


@pytest.mark.parametrize(
    "value",
    [b"", b"garbage", b'{"v": 1, "type": "metrics"}', b'{"type": "alert_record"}', b'{"type": "points"}'],
)
def test_a_record_naming_no_known_type_has_none(value: bytes) -> None:
    assert record_type(None, value) is None


def test_every_type_header_value_is_its_json_type() -> None:
    assert {t.value for t in RecordType} == {
        "metrics", "tick", "spans", "logs", "rollups", "alert-transition", "alert-states", "deadletter"
    }  # fmt: skip


def test_a_refused_record_says_why_it_names_no_type() -> None:
    assert "invalid JSON" in unreadable_reason(None, b"{not json", "m")
    assert "unknown type 'gauges'" in unreadable_reason([], b'{"type": "gauges"}', "m")
    assert "unknown perfpulse-type header b'nope'" in unreadable_reason([(TYPE_HEADER, b"nope")], b"{}", "m")
    assert unreadable_reason(None, b'{"type": "spans", "spans": []}', "m") == (
        "cannot read a record of type 'spans' on topic m"
    )
