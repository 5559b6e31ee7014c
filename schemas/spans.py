"""Spans: the spec's TraceSpan (plus status and kind), and their Kafka wire encoding.

A ``spans`` record carries a batch of spans (hundreds) of one service, keyed by that service (so a
service's span-derived metrics are whole in one partition, where its alert rules are evaluated); a
trace's spans are spread over the services' partitions, and no consumer relies on them sharing one.
Times are epoch nanoseconds (OTLP's unit; the HTTP envelope takes milliseconds and RFC 3339).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from schemas.checks import check_service
from schemas.limits import Limits
from schemas.wire import WireError, decode_items

__all__ = [
    "SPAN_ID",
    "TRACE_ID",
    "Span",
    "SpanEvent",
    "SpanKind",
    "SpanStatus",
    "check_span",
    "decode_spans",
    "encode_spans",
]

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")  # W3C trace-context: 16 bytes, lowercase hex, not all zero
SPAN_ID = re.compile(r"^[0-9a-f]{16}$")  # 8 bytes
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_DEFAULT_LIMITS = Limits()


class SpanKind(StrEnum):
    INTERNAL = "internal"
    SERVER = "server"  # handles an incoming request
    CLIENT = "client"  # makes an outgoing request
    PRODUCER = "producer"
    CONSUMER = "consumer"


class SpanStatus(StrEnum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"  # the span failed; counted by span.errors


@dataclass(slots=True)
class SpanEvent:
    """A log line attached to a span (the spec's ``logs`` entries; OTLP span events)."""

    ts_ns: int
    message: str
    level: str = "info"
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Span:
    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    parent_span_id: str | None  # None for a root span
    service: str
    operation: str
    start_ns: int  # epoch ns
    end_ns: int  # epoch ns, >= start_ns
    kind: SpanKind = SpanKind.INTERNAL
    status: SpanStatus = SpanStatus.UNSET
    status_message: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # attributes; values as text
    events: list[SpanEvent] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def check_span(span: Span, limits: Limits) -> str | None:
    """None when the span is acceptable, else the reason (naming the offending value)."""
    if not TRACE_ID.match(span.trace_id) or span.trace_id == _ZERO_TRACE:
        return f"trace id {span.trace_id!r} must be 32 lowercase hex digits, not all zero"
    if not SPAN_ID.match(span.span_id) or span.span_id == _ZERO_SPAN:
        return f"span id {span.span_id!r} must be 16 lowercase hex digits, not all zero"
    if span.parent_span_id is not None and (
        not SPAN_ID.match(span.parent_span_id) or span.parent_span_id == _ZERO_SPAN
    ):
        return f"parent span id {span.parent_span_id!r} must be 16 lowercase hex digits"
    if (problem := check_service(span.service, limits)) is not None:
        return problem
    if not span.operation or len(span.operation) > limits.max_name_length:
        return f"operation must be 1 to {limits.max_name_length} characters, got {len(span.operation)}"
    if span.end_ns < span.start_ns:
        return f"end {span.end_ns} is before start {span.start_ns}"
    if len(span.tags) > limits.max_span_attributes:
        return f"{len(span.tags)} tags, the limit is {limits.max_span_attributes}"
    if len(span.events) > limits.max_span_events:
        return f"{len(span.events)} span logs, the limit is {limits.max_span_events}"
    return None


def _span_dict(span: Span) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "service": span.service,
        "operation": span.operation,
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "kind": span.kind.value,
        "status": span.status.value,
        "status_message": span.status_message,
        "tags": span.tags,
        "events": [
            {"ts_ns": e.ts_ns, "message": e.message, "level": e.level, "attributes": e.attributes} for e in span.events
        ],
    }


def encode_spans(spans: list[Span]) -> bytes:
    """Encode a batch of spans as the value of one ``spans`` record."""
    return orjson.dumps({"type": "spans", "v": 1, "spans": [_span_dict(s) for s in spans]})


def decode_spans(data: bytes, limits: Limits = _DEFAULT_LIMITS) -> list[Span]:
    """Decode and validate one ``spans`` record; :class:`~schemas.wire.WireError` says why not."""
    spans = []
    for index, raw in enumerate(decode_items(data, "spans")):
        try:
            span = Span(
                trace_id=_text(raw["trace_id"]),
                span_id=_text(raw["span_id"]),
                parent_span_id=None if raw.get("parent_span_id") is None else _text(raw["parent_span_id"]),
                service=_text(raw["service"]),
                operation=_text(raw["operation"]),
                start_ns=_integer(raw["start_ns"]),
                end_ns=_integer(raw["end_ns"]),
                kind=SpanKind(raw.get("kind", "internal")),
                status=SpanStatus(raw.get("status", "unset")),
                status_message=_text(raw.get("status_message", "")),
                tags=_attributes(raw.get("tags", {})),
                events=[
                    SpanEvent(
                        _integer(e["ts_ns"]),
                        _text(e["message"]),
                        _text(e.get("level", "info")),
                        _attributes(e.get("attributes", {})),
                    )
                    for e in raw.get("events", [])
                ],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError(f"cannot decode spans[{index}]: {exc!r}") from None
        if (problem := check_span(span, limits)) is not None:
            raise WireError(f"spans[{index}]: {problem}")
        spans.append(span)
    return spans


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _attributes(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError("attributes must be an object of strings")
    return value
