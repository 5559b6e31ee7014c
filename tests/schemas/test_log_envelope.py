"""The HTTP logs envelope: a valid body becomes redacted log records packed per service; a bad one is
rejected whole, every offending field named."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import EnvelopeError, Limits, LogLevel, LogRecord, Redactor
from schemas.log_envelope import MAX_LOGS_PER_RECORD, pack_logs, parse_level, parse_logs_envelope
from schemas.redact import REDACTED

NOW = 1_800_000_000_000
LIMITS = Limits()
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def log(**overrides: Any) -> dict[str, Any]:
    return {"ts": NOW - 5, "level": "info", "message": "order placed", **overrides}


def body(*logs: dict[str, Any], service: str = "frontend") -> dict[str, Any]:
    return {"service": service, "logs": list(logs)}


def parse(raw: Any, limits: Limits = LIMITS) -> list[LogRecord]:
    return [r for batch in parse_logs_envelope(raw, NOW, limits, Redactor()) for r in batch]


def rejected(raw: Any, limits: Limits = LIMITS) -> list[tuple[str, str]]:
    with pytest.raises(EnvelopeError) as caught:
        parse_logs_envelope(raw, NOW, limits, Redactor())
    return [(d.loc, d.msg) for d in caught.value.details]


def test_records_are_read_with_every_field() -> None:
    [first, second] = parse(
        body(
            log(
                attributes={"user": "u1", "items": 3, "gift": True}, trace_id=TRACE.upper(), span_id="00f067aa0ba902b7"
            ),
            log(ts="2027-01-15T07:59:59.5Z", level="WARNING", message="slow", trace_id="", span_id=None),
        )
    )
    assert first == LogRecord(
        ts_ns=(NOW - 5) * 1_000_000,
        service="frontend",
        level=LogLevel.INFO,
        message="order placed",
        attributes={"user": "u1", "items": "3", "gift": "true"},
        trace_id=TRACE,
        span_id="00f067aa0ba902b7",
    )
    assert second.ts_ns == (NOW - 500) * 1_000_000 and second.level is LogLevel.WARN
    assert second.trace_id is None and second.span_id is None


def test_ts_defaults_to_now() -> None:
    [record] = parse(body({"level": "error", "message": "x"}))
    assert record.ts_ns == NOW * 1_000_000


def test_secrets_are_redacted() -> None:
    [record] = parse(body(log(message="POST https://bob:s3cret@api.example/x", attributes={"x-api-key": "k"})))
    assert record.message == f"POST https://{REDACTED}@api.example/x" and record.attributes == {"x-api-key": REDACTED}


@pytest.mark.parametrize(
    ("raw", "loc", "fragment"),
    [
        (body(log(level="loud")), "logs[0].level", "one of"),
        (body({"message": "x"}), "logs[0].level", "required"),
        (body(log(message=None)), "logs[0].message", ""),
        (body(log(ts="later")), "logs[0].ts", "cannot read timestamp"),
        (body(log(ts=NOW - 25 * 3_600_000)), "logs[0].ts", "in the past"),
        (body(log(message="m" * 32_769)), "logs[0].message", "32769 characters"),
        (body(log(attributes={f"k{i}": "v" for i in range(129)})), "logs[0].attributes", "129 attributes"),
        (body(log(attributes={"k": {"nested": 1}})), "logs[0].attributes.k", ""),
        (body(log(trace_id="abc")), "logs[0].trace_id", "32 lowercase hex"),
        (body(log(span_id="0" * 16)), "logs[0].span_id", "not all zero"),
        (body(log(severity="high")), "logs[0].severity", "extra"),
        (body(log(), service=""), "service", "non-empty"),
        (body(), "logs", "at least one"),
    ],
)
def test_bad_fields_are_named(raw: Any, loc: str, fragment: str) -> None:
    details = rejected(raw)
    assert [d for d in details if d[0].startswith(loc)], details
    assert fragment.lower() in " ".join(msg for _, msg in details).lower()


def test_a_bad_service_is_reported_once_and_the_records_still_checked() -> None:
    details = rejected(body(log(), log(level="loud"), service="bad service"))
    assert [loc for loc, _ in details] == ["service", "logs[1].level"]


def test_oversized_batch_is_refused() -> None:
    assert rejected(body(*[log()] * 3), Limits(max_records_per_batch=2)) == [
        ("logs", "3 log records, the limit is 2 per request")
    ]


def test_records_are_packed_per_service_by_count_and_size() -> None:
    records = [LogRecord(NOW * 1_000_000, f"svc{i % 2}", LogLevel.INFO, "m") for i in range(1_100)]
    batches = pack_logs(records, LIMITS)
    assert all(len({r.service for r in b}) == 1 for b in batches)
    assert max(len(b) for b in batches) == MAX_LOGS_PER_RECORD and sum(map(len, batches)) == 1_100
    big = [LogRecord(NOW * 1_000_000, "svc", LogLevel.INFO, "m" * 30_000) for _ in range(40)]
    assert all(len(b) * 30_000 <= LIMITS.max_record_bytes for b in pack_logs(big, LIMITS))


@pytest.mark.parametrize(
    ("name", "level"),
    [("TRACE", LogLevel.TRACE), ("warning", LogLevel.WARN), ("Critical", LogLevel.FATAL), (" error ", LogLevel.ERROR)],
)
def test_level_names_and_aliases(name: str, level: LogLevel) -> None:
    assert parse_level(name) is level
