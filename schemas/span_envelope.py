"""The HTTP ingest envelope for spans, and the checks, redaction and batching every span ingest path
(SDK, HTTP envelope, OTLP) shares.

``POST /api/v1/ingest/spans`` takes ``{"service", "spans": [{"traceId", "spanId", "parentSpanId"?,
"serviceName"?, "operationName", "startTime", "endTime", "tags"?, "logs"?: [{"timestamp", "message",
"level"}], "status"?, "statusMessage"?, "kind"?}]}`` — the spec's TraceSpan plus status and kind.
Times are epoch milliseconds (fractional allowed) or RFC 3339; ``serviceName`` overrides the
envelope's service; tag values may be any JSON scalar and are stored as text.
:func:`parse_spans_envelope` validates a decoded body whole, redacts it and packs it into ``spans``
records, or raises :class:`~schemas.envelope.EnvelopeError` naming every bad field.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable
from dataclasses import replace
from itertools import chain
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from pydantic.alias_generators import to_camel

from schemas.attributes import attribute_text, check_attributes, text_bytes
from schemas.checks import check_service, check_timestamp
from schemas.envelope import EnvelopeError, FieldError, validate_envelope
from schemas.limits import Limits, check_epoch_ns
from schemas.log_envelope import Scalar, TimeIn, parse_level
from schemas.redact import REDACTED, Redactor
from schemas.spans import SPAN_ID, TRACE_ID, Span, SpanEvent, SpanKind, SpanStatus, check_span
from schemas.timeparse import parse_timestamp_ns

__all__ = [
    "MAX_SPANS_PER_RECORD",
    "SpanIn",
    "SpanLogIn",
    "SpansEnvelope",
    "check_span_fields",
    "check_spans",
    "pack_spans",
    "parse_spans_envelope",
    "redact_maps",
    "redact_span",
    "redact_spans",
    "redact_texts",
]

MAX_SPANS_PER_RECORD: Final = 500  # spans per Kafka record we write
_SPAN_OVERHEAD_BYTES: Final = 400  # the JSON keys, ids and numbers around one span's texts
_EVENT_OVERHEAD_BYTES: Final = 80
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_HEX: Final = re.compile(r"[0-9a-f]*+")  # ids joined: one match for a whole column


class SpanLogIn(BaseModel):
    """A log line of a span (the spec's TraceSpan ``logs`` entries)."""

    model_config = ConfigDict(extra="forbid")

    timestamp: TimeIn = Field(description="epoch ms (fractional allowed) or RFC 3339")
    message: StrictStr
    level: StrictStr = Field(default="info", description="trace, debug, info, warn, error or fatal")
    attributes: dict[StrictStr, Scalar] | None = None


class SpanIn(BaseModel):
    """One span: the spec's TraceSpan plus ``status``, ``statusMessage`` and ``kind``."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)

    trace_id: StrictStr = Field(description="32 hex digits")
    span_id: StrictStr = Field(description="16 hex digits")
    parent_span_id: StrictStr | None = Field(default=None, description="16 hex digits; absent or empty for a root")
    service_name: StrictStr | None = Field(default=None, description="overrides the envelope's service")
    operation_name: StrictStr
    start_time: TimeIn = Field(description="epoch ms (fractional allowed) or RFC 3339")
    end_time: TimeIn
    tags: dict[StrictStr, Scalar] | None = None
    logs: list[SpanLogIn] | None = None
    status: SpanStatus = SpanStatus.UNSET
    status_message: StrictStr | None = None
    kind: SpanKind = SpanKind.INTERNAL

    @field_validator("status", "kind", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class SpansEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: StrictStr
    spans: list[SpanIn]


def check_span_fields(span: Span, now_ms: int, limits: Limits) -> tuple[str, str] | None:
    """None when the span may be stored, else ``(field, reason)``; ``field`` is the envelope's name of
    the offending field (``""``: the span as a whole). Adds to :func:`~schemas.spans.check_span`
    the end time's skew, the sizes of tags and span logs, and the size of the whole span."""
    if not TRACE_ID.match(span.trace_id) or span.trace_id == _ZERO_TRACE:
        return "traceId", f"trace id {span.trace_id!r} must be 32 lowercase hex digits, not all zero"
    if not SPAN_ID.match(span.span_id) or span.span_id == _ZERO_SPAN:
        return "spanId", f"span id {span.span_id!r} must be 16 lowercase hex digits, not all zero"
    if span.parent_span_id is not None and (
        not SPAN_ID.match(span.parent_span_id) or span.parent_span_id == _ZERO_SPAN
    ):
        return "parentSpanId", f"parent span id {span.parent_span_id!r} must be 16 lowercase hex digits, not all zero"
    if (problem := check_service(span.service, limits)) is not None:
        return "serviceName", problem
    if not span.operation or len(span.operation) > limits.max_name_length:
        return "operationName", f"operation must be 1 to {limits.max_name_length} characters, got {len(span.operation)}"
    if span.end_ns < span.start_ns:
        return "endTime", f"end {span.end_ns} ns is before start {span.start_ns} ns"
    if (problem := check_timestamp(span.end_ns // 1_000_000, now_ms, limits)) is not None:
        return "endTime", problem
    if (problem := check_attributes(span.tags, limits)) is not None:
        return "tags", problem
    if len(span.events) > limits.max_span_events:
        return "logs", f"{len(span.events)} span logs, the limit is {limits.max_span_events}"
    for event in span.events:
        if len(event.message) > (limit := limits.max_message_length):
            return "logs", f"a message is {len(event.message)} characters long, the limit is {limit}"
        if (problem := check_attributes(event.attributes, limits, "attributes")) is not None:
            return "logs", problem
    limit = limits.max_record_bytes
    # Counting characters is cheap, and at 4 bytes each most spans are surely small enough.
    if _span_chars(span) * 4 + _SPAN_OVERHEAD_BYTES > limit and (size := span_bytes(span)) > limit:
        return "", f"the span takes about {size} bytes encoded, the limit is {limit}"
    if (problem := check_span(span, limits)) is not None:  # the wire's own checks, should none above cover it
        return "", problem
    return None


def check_spans(spans: list[Span], now_ms: int, limits: Limits) -> list[tuple[int, tuple[str, str]]]:
    """What :func:`check_span_fields` finds in ``spans``, as ``(index, (field, reason))`` in order,
    at a fraction of its cost per span: checks over whole columns (ids joined under one regex, each
    distinct service and tag name once, the extremes of lengths and times, a size bound from the
    largest parts) leave only the spans with span logs to check one by one; when a column check
    fails, every span is checked."""
    suspects = (
        [i for i, s in enumerate(spans) if s.events] if _columns_pass(spans, now_ms, limits) else range(len(spans))
    )
    return [(i, problem) for i in suspects if (problem := check_span_fields(spans[i], now_ms, limits)) is not None]


def _columns_pass(spans: list[Span], now_ms: int, limits: Limits) -> bool:
    """Whether every check of :func:`check_span_fields` but those of span logs passes for every span."""
    traces, span_ids = [s.trace_id for s in spans], [s.span_id for s in spans]
    parents = [s.parent_span_id for s in spans if s.parent_span_id is not None]
    operations = [s.operation for s in spans]
    starts, ends = [s.start_ns for s in spans], [s.end_ns for s in spans]
    tags = [s.tags for s in spans]
    keys = set(chain.from_iterable(tags))
    longest_value = max(map(len, chain.from_iterable(map(dict.values, tags))), default=0)
    longest_key = max(map(len, keys), default=0)
    most_tags = max(map(len, tags), default=0)
    services = {s.service for s in spans}
    largest = max(map(len, services), default=0) + max(map(len, operations), default=0)
    largest += max((len(s.status_message) for s in spans), default=0) + most_tags * (longest_key + longest_value + 6)
    return (
        set(map(len, traces)) <= {32}
        and set(map(len, span_ids)) <= {16}
        and set(map(len, parents)) <= {16}
        and _HEX.fullmatch("".join(traces)) is not None
        and _HEX.fullmatch("".join(span_ids)) is not None
        and _HEX.fullmatch("".join(parents)) is not None
        and _ZERO_TRACE not in traces
        and _ZERO_SPAN not in span_ids
        and _ZERO_SPAN not in parents
        and all(check_service(s, limits) is None for s in services)
        and min(map(len, operations), default=1) > 0
        and max(map(len, operations), default=0) <= limits.max_name_length
        and all(map(operator.le, starts, ends))
        # check_timestamp's bounds on end_ns // 1e6
        and min(ends, default=now_ms * 1_000_000) >= (now_ms - limits.max_past_ms) * 1_000_000
        and max(ends, default=0) < (now_ms + limits.max_future_ms + 1) * 1_000_000
        and most_tags <= limits.max_span_attributes
        and "" not in keys
        and longest_key <= limits.max_label_key_length
        and longest_value <= limits.max_attribute_value_length
        and largest * 4 + _SPAN_OVERHEAD_BYTES <= limits.max_record_bytes
    )


def redact_spans(spans: list[Span], redactor: Redactor) -> list[Span]:
    """:func:`redact_span` on each span, in place, with each distinct text and tag name checked once
    (:func:`redact_maps`); returns ``spans``."""
    tags = [s.tags for s in spans]
    messages = [s.status_message for s in spans]
    if (masked_tags := redact_maps(tags, redactor)) is not tags:
        for span, masked in zip(spans, masked_tags, strict=True):
            span.tags = masked
    if (masked_messages := redact_texts(messages, redactor)) is not messages:
        for span, message in zip(spans, masked_messages, strict=True):
            span.status_message = message
    events = [e for s in spans for e in s.events]
    if events:
        texts = [e.message for e in events]
        attributes = [e.attributes for e in events]
        for event, message, masked in zip(
            events, redact_texts(texts, redactor), redact_maps(attributes, redactor), strict=True
        ):
            event.message, event.attributes = message, masked
    return spans


def redact_span(span: Span, redactor: Redactor) -> Span:
    """Mask secrets in tags, status message and span logs (messages and attributes), in place;
    returns the span."""
    if span.tags:
        span.tags = redactor.attributes(span.tags)
    if span.status_message:
        span.status_message = redactor.text(span.status_message)
    for event in span.events:
        event.message = redactor.text(event.message)
        if event.attributes:
            event.attributes = redactor.attributes(event.attributes)
    return span


def redact_texts(texts: list[str], redactor: Redactor) -> list[str]:
    """Each text as :meth:`Redactor.text` leaves it; ``texts`` itself when none changes.

    The distinct texts are joined by newlines and redacted once: no pattern of the Redactor matches
    across a newline but the PEM body's, and that one always changes the text, and next to a newline
    each pattern decides as at the end or the start of a text. So an unchanged join means unchanged
    texts, and only a batch holding a secret pays a pass per distinct text."""
    distinct = set(texts)
    joined = "\n".join(distinct)
    if redactor.text(joined) == joined:
        return texts
    masked = {t: redactor.text(t) for t in distinct}
    return [masked[t] for t in texts]


def redact_maps(maps: list[dict[str, str]], redactor: Redactor) -> list[dict[str, str]]:
    """Each map as :meth:`Redactor.attributes` leaves it (values of sensitive keys replaced, the rest
    through :meth:`Redactor.text`); ``maps`` itself when nothing changes. Keys and values are checked
    once per distinct one (:func:`redact_texts`); maps redacted already (the sink redacts what the
    receivers did) come back as they are."""
    keys = {key for key in set(chain.from_iterable(maps)) if redactor.sensitive(key)}
    values = list(set(chain.from_iterable(map(dict.values, maps))))
    masked = redact_texts(values, redactor)
    if masked is values and (not keys or all(m.get(k, REDACTED) == REDACTED for k in keys for m in maps)):
        return maps
    text = {v: m for v, m in zip(values, masked, strict=True) if v != m}
    return [{k: REDACTED if k in keys else text.get(v, v) for k, v in m.items()} for m in maps]


def _span_chars(span: Span) -> int:
    """Characters in the span's texts (UTF-8 takes at most 4 bytes for one)."""
    size = len(span.service) + len(span.operation) + len(span.status_message)
    size += sum(map(len, span.tags)) + sum(map(len, span.tags.values())) + 6 * len(span.tags)
    for event in span.events:
        size += _EVENT_OVERHEAD_BYTES + len(event.message)
        size += sum(map(len, event.attributes)) + sum(map(len, event.attributes.values())) + 6 * len(event.attributes)
    return size


def span_bytes(span: Span) -> int:
    """About how many bytes the span takes in a ``spans`` record (never much less)."""
    tags = span.tags
    if (
        not span.events
        and span.service.isascii()
        and span.operation.isascii()
        and span.status_message.isascii()
        and "".join(tags).isascii()
        and "".join(tags.values()).isascii()
    ):  # one byte a character: the character count is the size
        return _SPAN_OVERHEAD_BYTES + _span_chars(span)
    size = _SPAN_OVERHEAD_BYTES + text_bytes(span.service) + text_bytes(span.operation)
    size += text_bytes(span.status_message)
    for key, value in span.tags.items():
        size += text_bytes(key) + text_bytes(value) + 6
    for event in span.events:
        size += _EVENT_OVERHEAD_BYTES + text_bytes(event.message)
        for key, value in event.attributes.items():
            size += text_bytes(key) + text_bytes(value) + 6
    return size


def pack_spans(spans: Iterable[Span], limits: Limits) -> list[list[Span]]:
    """Batches of at most :data:`MAX_SPANS_PER_RECORD` spans and about ``limits.max_record_bytes``
    each, in order (a batch may mix traces and services).

    Greedy: each batch takes spans until the next would break a bound. A run of
    :data:`MAX_SPANS_PER_RECORD` ASCII spans within the size bound is sized in one pass over its
    texts; from the first run that is not, spans are sized one by one (:func:`span_bytes`)."""
    spans = list(spans)
    batches: list[list[Span]] = []
    for start in range(0, len(spans), MAX_SPANS_PER_RECORD):
        run = spans[start : start + MAX_SPANS_PER_RECORD]
        if _ascii_bytes(run) > limits.max_record_bytes:
            return batches + _pack_one_by_one(spans[start:], limits)
        batches.append(run)
    return batches


def _ascii_bytes(spans: list[Span]) -> float:
    """The sum of :func:`span_bytes` over ``spans`` when all their texts are ASCII, else infinity."""
    tags = [s.tags for s in spans]
    events = [e for s in spans for e in s.events]
    attributes = [e.attributes for e in events]
    texts = "".join(
        chain(
            (s.service for s in spans),
            (s.operation for s in spans),
            (s.status_message for s in spans),
            chain.from_iterable(tags),
            chain.from_iterable(map(dict.values, tags)),
            (e.message for e in events),
            chain.from_iterable(attributes),
            chain.from_iterable(map(dict.values, attributes)),
        )
    )
    if not texts.isascii():
        return math.inf
    pairs = sum(map(len, tags)) + sum(map(len, attributes))
    return len(spans) * _SPAN_OVERHEAD_BYTES + len(events) * _EVENT_OVERHEAD_BYTES + len(texts) + 6 * pairs


def _pack_one_by_one(spans: list[Span], limits: Limits) -> list[list[Span]]:
    batches: list[list[Span]] = []
    batch: list[Span] = []
    size = 0
    for span in spans:
        span_size = span_bytes(span)
        if batch and (len(batch) >= MAX_SPANS_PER_RECORD or size + span_size > limits.max_record_bytes):
            batches.append(batch)
            batch, size = [], 0
        batch.append(span)
        size += span_size
    if batch:
        batches.append(batch)
    return batches


def parse_spans_envelope(body: Any, now_ms: int, limits: Limits, redactor: Redactor) -> list[list[Span]]:
    """Validate a decoded JSON body, redact it and return it as batches for ``spans`` records.

    Raises :class:`~schemas.envelope.EnvelopeError` with every field-level reason found; then
    nothing of the body may be stored.
    """
    envelope = validate_envelope(body, SpansEnvelope, "spans", "span", limits.max_records_per_batch)
    errors: list[FieldError] = []
    service_problem = check_service(envelope.service, limits)
    if service_problem is not None:
        errors.append(FieldError("service", service_problem))
    spans: list[Span] = []
    for i, item in enumerate(envelope.spans):
        span = _to_span(item, envelope.service, now_ms, f"spans[{i}]", errors)
        # A bad envelope service is reported once, at "service": check the span's other fields.
        inherited_problem = item.service_name is None and service_problem is not None
        problem = check_span_fields(replace(span, service="_") if inherited_problem else span, now_ms, limits)
        if problem is not None:
            field, reason = problem
            errors.append(FieldError(f"spans[{i}].{field}" if field else f"spans[{i}]", reason))
        if len(errors) >= 100:
            break
        spans.append(span)
    if errors:
        raise EnvelopeError("invalid spans batch", errors)
    return pack_spans((redact_span(s, redactor) for s in spans), limits)


def _to_span(item: SpanIn, service: str, now_ms: int, loc: str, errors: list[FieldError]) -> Span:
    """The span of one validated envelope item; unreadable times and levels are added to ``errors``
    (and stand-ins used, so that the span's other fields are still checked)."""
    start = _time_ns(item.start_time, f"{loc}.startTime", errors)
    end = _time_ns(item.end_time, f"{loc}.endTime", errors)
    start_ns = start if start is not None else end if end is not None else now_ms * 1_000_000
    end_ns = end if end is not None else start_ns
    events = []
    for j, log in enumerate(item.logs or ()):
        try:
            level = parse_level(log.level).value
        except ValueError as exc:
            errors.append(FieldError(f"{loc}.logs[{j}].level", str(exc)))
            level = "info"
        ts_ns = _time_ns(log.timestamp, f"{loc}.logs[{j}].timestamp", errors)
        events.append(
            SpanEvent(
                ts_ns=start_ns if ts_ns is None else ts_ns,
                message=log.message,
                level=level,
                attributes={k: attribute_text(v) for k, v in log.attributes.items()} if log.attributes else {},
            )
        )
    return Span(
        trace_id=item.trace_id.lower(),
        span_id=item.span_id.lower(),
        parent_span_id=item.parent_span_id.lower() if item.parent_span_id else None,
        service=item.service_name if item.service_name is not None else service,
        operation=item.operation_name,
        start_ns=start_ns,
        end_ns=end_ns,
        kind=item.kind,
        status=item.status,
        status_message=item.status_message or "",
        tags={k: attribute_text(v) for k, v in item.tags.items()} if item.tags else {},
        events=events,
    )


def _time_ns(value: int | float | str, loc: str, errors: list[FieldError]) -> int | None:
    """Epoch ns of ``value``, or None with the reason added to ``errors`` (unreadable, or a time the
    store cannot hold: a start time is bounded by nothing else)."""
    try:
        ns = parse_timestamp_ns(value)
    except ValueError as exc:
        errors.append(FieldError(loc, str(exc)))
        return None
    if (problem := check_epoch_ns(ns)) is not None:
        errors.append(FieldError(loc, problem))
        return None
    return ns
