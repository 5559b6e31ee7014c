"""The HTTP spans envelope: a valid body becomes redacted spans packed into records; a bad one is
rejected whole, every offending field named."""

from __future__ import annotations

import random
from typing import Any

import pytest

from schemas import EnvelopeError, Limits, Redactor, Span, SpanEvent, SpanKind, SpanStatus
from schemas.redact import REDACTED
from schemas.span_envelope import (
    MAX_SPANS_PER_RECORD,
    check_span_fields,
    check_spans,
    pack_spans,
    parse_spans_envelope,
    redact_maps,
    redact_span,
    redact_spans,
    redact_texts,
    span_bytes,
)

NOW = 1_800_000_000_000
LIMITS = Limits()
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def span(**overrides: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "spanId": "00f067aa0ba902b7",
        "operationName": "GET /quote",
        "startTime": NOW - 20,
        "endTime": NOW - 8.5,
        **overrides,
    }


def body(*spans: dict[str, Any], service: str = "gateway") -> dict[str, Any]:
    return {"service": service, "spans": list(spans)}


def parse(raw: Any, limits: Limits = LIMITS) -> list[Any]:
    return [s for batch in parse_spans_envelope(raw, NOW, limits, Redactor()) for s in batch]


def rejected(raw: Any, limits: Limits = LIMITS) -> list[tuple[str, str]]:
    with pytest.raises(EnvelopeError) as caught:
        parse_spans_envelope(raw, NOW, limits, Redactor())
    return [(d.loc, d.msg) for d in caught.value.details]


def test_a_full_span_is_read_with_every_field() -> None:
    [read] = parse(
        body(
            span(
                parentSpanId="A3CE929D0E0E4736",  # upper case is read as lower case
                serviceName="orchestrator",
                tags={"http.status_code": 200, "cached": False, "ratio": 0.25, "user": "u1", "none": None},
                logs=[{"timestamp": "2027-01-15T08:00:00.123456789Z", "message": "retry", "level": "WARNING"}],
                status="error",
                statusMessage="upstream timeout",
                kind="SERVER",
            )
        )
    )
    assert read.trace_id == TRACE and read.span_id == "00f067aa0ba902b7"
    assert read.parent_span_id == "a3ce929d0e0e4736"
    assert read.service == "orchestrator"
    assert read.operation == "GET /quote"
    assert read.start_ns == (NOW - 20) * 1_000_000 and read.end_ns == (NOW - 8) * 1_000_000 - 500_000
    assert read.duration_ms == 11.5
    assert read.tags == {"http.status_code": "200", "cached": "false", "ratio": "0.25", "user": "u1", "none": "null"}
    [event] = read.events
    assert event.ts_ns == 1_800_000_000_123_456_789  # NOW is 2027-01-15T08:00:00Z
    assert event.message == "retry" and event.level == "warn"
    assert read.status is SpanStatus.ERROR and read.status_message == "upstream timeout"
    assert read.kind is SpanKind.SERVER


def test_defaults_root_span_and_envelope_service() -> None:
    [read] = parse(body(span(parentSpanId="")))
    assert read.parent_span_id is None and read.service == "gateway"
    assert read.status is SpanStatus.UNSET and read.kind is SpanKind.INTERNAL
    assert read.tags == {} and read.events == []


def test_rfc3339_times_keep_nanoseconds() -> None:
    [read] = parse(body(span(startTime="2027-01-15T08:00:00.000000001Z", endTime="2027-01-15T08:00:00.5Z")))
    assert read.end_ns - read.start_ns == 499_999_999


def test_secrets_are_redacted() -> None:
    [read] = parse(
        body(
            span(
                tags={"http.request.header.authorization": "Basic dXNlcjpwYXNz", "db.statement": "token=abc123"},
                logs=[{"timestamp": NOW, "message": "card 4111 1111 1111 1111", "attributes": {"password": "x"}}],
                statusMessage="Bearer abcdefghijk",
            )
        )
    )
    assert read.tags == {"http.request.header.authorization": REDACTED, "db.statement": f"token={REDACTED}"}
    assert read.events[0].message == "card [CARD ****1111]" and read.events[0].attributes == {"password": REDACTED}
    assert read.status_message == f"Bearer {REDACTED}"


@pytest.mark.parametrize(
    ("raw", "loc", "fragment"),
    [
        (body(span(traceId="xyz")), "spans[0].traceId", "32 lowercase hex"),
        (body(span(traceId="0" * 32)), "spans[0].traceId", "not all zero"),
        (body(span(spanId="00f067aa0ba902")), "spans[0].spanId", "16 lowercase hex"),
        (body(span(parentSpanId="0" * 16)), "spans[0].parentSpanId", "not all zero"),
        (body(span(serviceName="has space")), "spans[0].serviceName", "characters outside"),
        (body(span(operationName="")), "spans[0].operationName", "1 to 200"),
        (body(span(endTime=NOW - 30)), "spans[0].endTime", "before start"),
        (body(span(startTime=NOW - 26 * 3_600_000, endTime=NOW - 25 * 3_600_000)), "spans[0].endTime", "in the past"),
        (body(span(endTime=NOW + 3_600_000)), "spans[0].endTime", "in the future"),
        (body(span(startTime="yesterday")), "spans[0].startTime", "cannot read timestamp"),
        (body(span(startTime=True)), "spans[0].startTime", "epoch milliseconds"),
        (body(span(tags={f"k{i}": i for i in range(129)})), "spans[0].tags", "129 tags"),
        (body(span(tags={"k": "v" * 8_193})), "spans[0].tags", "8193 characters"),
        (body(span(tags={"k": [1, 2]})), "spans[0].tags.k", ""),
        (body(span(logs=[{"timestamp": NOW, "message": "m", "level": "loud"}])), "spans[0].logs[0].level", "one of"),
        (body(span(logs=[{"message": "m"}])), "spans[0].logs[0].timestamp", "required"),
        (body(span(status="failed")), "spans[0].status", ""),
        (body(span(kind="sideways")), "spans[0].kind", ""),
        (body(span(duration=3)), "spans[0].duration", "extra"),
        ({"spans": [span()]}, "service", "required"),
        (body(span(), service="has space"), "service", "characters outside"),
        (body(), "spans", "at least one span"),
        ([span()], "body", ""),
    ],
)
def test_bad_fields_are_named(raw: Any, loc: str, fragment: str) -> None:
    details = rejected(raw)
    assert [d for d in details if d[0].startswith(loc)], details
    assert fragment.lower() in " ".join(msg for _, msg in details).lower()


def test_every_bad_span_is_reported_and_an_envelope_problem_only_once() -> None:
    details = rejected(body(span(), span(spanId="x"), span(), span(endTime=NOW + 3_600_000), service="bad service"))
    assert [loc for loc, _ in details] == ["service", "spans[1].spanId", "spans[3].endTime"]


def test_oversized_batch_is_refused_before_validation() -> None:
    details = rejected(body(*[span()] * 11), Limits(max_records_per_batch=10))
    assert details == [("spans", "11 spans, the limit is 10 per request")]


def test_a_span_too_large_for_a_record_is_refused() -> None:
    limits = Limits(max_record_bytes=10_000)
    details = rejected(body(span(tags={f"k{i}": "v" * 1_000 for i in range(20)})), limits)
    assert details[0][0] == "spans[0]" and "bytes encoded" in details[0][1]


def test_spans_are_packed_by_count_and_size() -> None:
    spans = parse(body(*[span(spanId=f"{i + 1:016x}") for i in range(1_234)]))
    batches = pack_spans(spans, LIMITS)
    assert [len(b) for b in batches] == [MAX_SPANS_PER_RECORD, MAX_SPANS_PER_RECORD, 234]
    big = parse(body(*[span(spanId=f"{i + 1:016x}", tags={"t": "x" * 8_000}) for i in range(200)]))
    sized = pack_spans(big, LIMITS)
    assert len(sized) > 1 and all(len(b) * 8_000 <= LIMITS.max_record_bytes for b in sized)
    assert [s for b in sized for s in b] == big


# Batch checks and redaction: the same outcome as span by span, text by text.

SECRET_TEXTS = [
    "login with password=hunter2 failed",
    "Authorization: Bearer abcdefghijklmnop",
    "postgres://app:s3cr3t@db:5432/x",
    "card 4111 1111 1111 1111 declined",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nMIIEow unterminated",
    "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    '{"api_key": "k-123", "n": 5}',
    "--password hunter2 -h db",
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "Cookie: a=1; b=2",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "[REDACTED]",
    "ends with key=",
]
PLAIN_TEXTS = ["GET", "/api/quotes", "200", "10.0.0.7", "u4242", "", "worker-3", "token expired", "basic setup", "4111"]


@pytest.mark.parametrize("secret", [*SECRET_TEXTS, None])
def test_redact_texts_masks_as_text_by_text(secret: str | None) -> None:
    redactor = Redactor()
    texts = [*PLAIN_TEXTS, *PLAIN_TEXTS[::-1]]
    if secret is not None:
        texts.insert(3, secret)
        texts.append(secret)
    masked = redact_texts(texts, redactor)
    assert masked == [redactor.text(t) for t in texts]
    if secret is None:
        assert masked is texts  # nothing to mask: the list itself, nothing copied
    elif secret not in ("[REDACTED]", "ends with key="):  # those two stay as they are
        assert masked[3] != secret and masked[-1] == masked[3]


def test_redact_maps_masks_as_map_by_map() -> None:
    redactor = Redactor.of(["session", "authorization"])
    maps = [
        {"http.route": "/a", "user": "u1"},
        {"session": "s3cr3t", "note": "password=hunter2"},
        {"http.request.header.authorization": "Basic dXNlcjpwYXNz", "n": "1"},
        {},
    ]
    masked = redact_maps(maps, redactor)
    assert masked == [redactor.attributes(m) for m in maps]
    assert redact_maps(masked, redactor) is masked  # redacted already, as the sink gets them: nothing copied
    clean = [{"http.route": "/a"}, {"user": "u1"}]
    assert redact_maps(clean, redactor) is clean


def test_redact_spans_masks_tags_messages_and_span_logs_as_redact_span() -> None:
    redactor = Redactor.of(["session"])

    def spans() -> list[Span]:
        return [
            Span(TRACE, "00f067aa0ba902b7", None, "gateway", "op", NOW, NOW, status_message="password=x",
                 tags={"session": "s", "a": "b"}, events=[SpanEvent(NOW, "Bearer abcdefghijklm", "warn", {"n": "1"})]),
            Span(TRACE, "00f067aa0ba902b8", None, "gateway", "op", NOW, NOW, tags={"a": "b"}),
        ]  # fmt: skip

    assert redact_spans(spans(), redactor) == [redact_span(s, redactor) for s in spans()]


def test_check_spans_finds_what_check_span_fields_finds() -> None:
    now_ns = NOW * 1_000_000

    def good(**changes: Any) -> Span:
        span = Span(TRACE, "00f067aa0ba902b7", None, "gateway", "op", now_ns - 10**9, now_ns - 10**8, tags={"a": "b"})
        for name, value in changes.items():
            setattr(span, name, value)
        return span

    spans = [
        good(),
        good(trace_id="0" * 32),
        good(span_id="00F067AA0BA902B7"),
        good(parent_span_id=""),
        good(service="bad service"),
        good(operation=""),
        good(end_ns=now_ns - 2 * 10**9),
        good(end_ns=now_ns + 3_600 * 10**9),
        good(tags={"": "x"}),
        good(tags={"k": "v" * 9000}),
        good(tags={f"k{i}": "v" for i in range(129)}),
        good(events=[SpanEvent(now_ns, "m" * 40_000)]),
        good(events=[SpanEvent(now_ns, "fine")]),
        good(tags={f"k{i}": "v" * 8000 for i in range(100)}),
        good(),
    ]
    expected = [(i, p) for i, s in enumerate(spans) if (p := check_span_fields(s, NOW, LIMITS)) is not None]
    assert check_spans(spans, NOW, LIMITS) == expected
    assert [i for i, _ in expected] == [*range(1, 12), 13]
    assert check_spans([good(), good()], NOW, LIMITS) == []


@pytest.mark.parametrize("value", ["x", "é", "x" * 300, "€" * 300])
def test_packing_is_greedy_whatever_the_texts(value: str) -> None:
    spans = parse(body(*[span(spanId=f"{i + 1:016x}", tags={"t": value * (1 + i % 3)}) for i in range(1_100)]))
    batches = pack_spans(spans, LIMITS)
    assert [s for b in batches for s in b] == spans
    sizes = [sum(map(span_bytes, b)) for b in batches]
    assert max(sizes) <= LIMITS.max_record_bytes and max(map(len, batches)) <= MAX_SPANS_PER_RECORD
    for (batch, size), following in zip(zip(batches, sizes, strict=True), batches[1:], strict=False):
        # the next span did not fit: the batch was full by count or by size
        assert len(batch) == MAX_SPANS_PER_RECORD or size + span_bytes(following[0]) > LIMITS.max_record_bytes


def test_redact_texts_matches_text_by_text_on_generated_texts() -> None:
    """Texts built from secret fragments, separators and newlines: joining them must never hide or
    make a secret that text-by-text redaction would find."""
    rng = random.Random(12)
    fragments = [
        *SECRET_TEXTS, *PLAIN_TEXTS, "password", "=", ": ", '"', "'", "\n", "\\", " ", "-", ".", "@", "://",
        "4111", "1111", "token ", "Bearer ", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
        "eyJ", "AKIA", "0123456789ABCDEF", "--password", "?token=", "&", "}", "]", "é",
    ]  # fmt: skip
    redactor = Redactor()
    for _ in range(300):
        texts = ["".join(rng.choices(fragments, k=rng.randrange(0, 6))) for _ in range(rng.randrange(1, 12))]
        assert redact_texts(texts, redactor) == [redactor.text(t) for t in texts], texts
