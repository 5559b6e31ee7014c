"""Spans: the spec's TraceSpan (plus status and kind), and their Kafka wire encoding.

A ``spans`` record carries a batch of spans (hundreds) of one service, keyed by that service (so a
service's span-derived metrics are whole in one partition, where its alert rules are evaluated); a
trace's spans are spread over the services' partitions, and no consumer relies on them sharing one.
Times are epoch nanoseconds (OTLP's unit; the HTTP envelope takes milliseconds and RFC 3339).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from typing import Any

import orjson

from schemas.checks import check_service
from schemas.limits import Limits
from schemas.wire import WireError, decode_items

__all__ = [
    "SPAN_ID",
    "TRACE_ID",
    "Span",
    "SpanArrays",
    "SpanEvent",
    "SpanKind",
    "SpanStatus",
    "check_span",
    "decode_span_arrays",
    "decode_spans",
    "encode_spans",
]

TRACE_ID = re.compile(r"^[0-9a-f]{32}\Z")  # W3C trace-context: 16 bytes, lowercase hex, not all zero
SPAN_ID = re.compile(r"^[0-9a-f]{16}\Z")  # 8 bytes; \Z: "$" would take a trailing newline
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


@dataclass(slots=True)
class SpanArrays:
    """The spans of one ``spans`` record as parallel lists (entry ``i`` of each is span ``i``): what the
    stream stage and the sink read, without an object per span. ``parent_span_id`` is ``""`` for a
    root span (as stored); ``kind`` and ``status`` hold :class:`SpanKind` and :class:`SpanStatus`
    values; span logs are four tuples per span (times, messages, levels, attributes).

    Tuples, not lists, and ``()`` for a span without logs: the sink holds a flush's arrays (thousands
    of spans) until it inserts them, and every list it holds is one more object each of Python's
    garbage collections walks, on the API's event loop. A tuple of strings or numbers is untracked at
    the first collection that sees it (one of maps is not: one object per span with logs), ``()`` is
    one shared object, and a map of strings is never tracked."""

    trace_id: list[str]
    span_id: list[str]
    parent_span_id: list[str]
    service: list[str]
    operation: list[str]
    start_ns: list[int]
    end_ns: list[int]
    kind: list[str]
    status: list[str]
    status_message: list[str]
    tags: list[dict[str, str]]
    event_ts: list[tuple[int, ...]]
    event_message: list[tuple[str, ...]]
    event_level: list[tuple[str, ...]]
    event_attributes: list[tuple[dict[str, str], ...]]

    def __len__(self) -> int:
        return len(self.span_id)

    @classmethod
    def of(cls, spans: list[Span]) -> SpanArrays:
        """The arrays of ``spans``, in order."""
        return cls(
            trace_id=[s.trace_id for s in spans],
            span_id=[s.span_id for s in spans],
            parent_span_id=[s.parent_span_id or "" for s in spans],
            service=[s.service for s in spans],
            operation=[s.operation for s in spans],
            start_ns=[s.start_ns for s in spans],
            end_ns=[s.end_ns for s in spans],
            kind=[s.kind.value for s in spans],
            status=[s.status.value for s in spans],
            status_message=[s.status_message for s in spans],
            tags=[s.tags for s in spans],
            event_ts=[tuple([e.ts_ns for e in s.events]) for s in spans],
            event_message=[tuple([e.message for e in s.events]) for s in spans],
            event_level=[tuple([e.level for e in s.events]) for s in spans],
            event_attributes=[tuple([e.attributes for e in s.events]) for s in spans],
        )


def encode_spans(spans: list[Span]) -> bytes:
    """Encode a batch of spans as the value of one ``spans`` record: ``{"type": "spans", "v": 1,
    "spans": [{"trace_id", "span_id", "parent_span_id", "service", "operation", "start_ns", "end_ns",
    "kind", "status", "status_message", "tags", "events": [{"ts_ns", "message", "level",
    "attributes"}]}]}``. orjson writes the dataclasses itself (fields in declaration order, enums as
    their values): no dict is built per span."""
    return orjson.dumps({"type": "spans", "v": 1, "spans": spans})


def decode_spans(data: bytes, limits: Limits = _DEFAULT_LIMITS) -> list[Span]:
    """Decode and validate one ``spans`` record; :class:`~schemas.wire.WireError` says why not."""
    return _decode_each(decode_items(data, "spans"), limits)


def decode_span_arrays(data: bytes, limits: Limits = _DEFAULT_LIMITS) -> SpanArrays:
    """Decode and validate one ``spans`` record into columns; accepts and refuses exactly what
    :func:`decode_spans` does (:class:`~schemas.wire.WireError` says why not).

    The checks run per column (a set of types, one regex over the joined ids, each distinct service
    and operation once), not per span; a record failing them is decoded span by span, which names
    the first bad span and its reason."""
    items = decode_items(data, "spans")
    try:
        arrays = _columns(items, limits)
    except (KeyError, TypeError, ValueError, AttributeError):  # an item of the wrong shape
        arrays = None
    return arrays if arrays is not None else SpanArrays.of(_decode_each(items, limits))


_HEX = re.compile(r"[0-9a-f]*+")
_KINDS = frozenset(k.value for k in SpanKind)
_STATUSES = frozenset(s.value for s in SpanStatus)
_STR, _INT, _DICT, _LIST = frozenset({str}), frozenset({int}), frozenset({dict}), frozenset({list})


def _ids(ids: list[Any], digits: int, zero: str) -> bool:
    """Whether every id is ``digits`` lowercase hex digits, not all zero."""
    return (
        set(map(type, ids)) <= _STR
        and set(map(len, ids)) <= {digits}
        and _HEX.fullmatch("".join(ids)) is not None
        and zero not in ids
    )


def _text_maps(maps: list[Any]) -> bool:
    """Whether every entry is an object of strings."""
    return (
        set(map(type, maps)) <= _DICT
        and set(map(type, chain.from_iterable(maps))) <= _STR
        and set(map(type, chain.from_iterable(map(dict.values, maps)))) <= _STR
    )


def _columns(items: list[Any], limits: Limits) -> SpanArrays | None:
    """The arrays of ``items`` when every check of :func:`check_span` passes on them, else None (or
    an exception from an item of the wrong shape): then :func:`_decode_each` decides."""
    trace = [s["trace_id"] for s in items]
    span_id = [s["span_id"] for s in items]
    parents = [s.get("parent_span_id") for s in items]
    service = [s["service"] for s in items]
    operation = [s["operation"] for s in items]
    start = [s["start_ns"] for s in items]
    end = [s["end_ns"] for s in items]
    kind = [s.get("kind", "internal") for s in items]
    status = [s.get("status", "unset") for s in items]
    message = [s.get("status_message", "") for s in items]
    tags = [s.get("tags", {}) for s in items]
    events = [s.get("events", []) for s in items]
    present = [p for p in parents if p is not None]
    operations = set(operation)
    if not (
        _ids(trace, 32, _ZERO_TRACE)
        and _ids(span_id, 16, _ZERO_SPAN)
        and _ids(present, 16, _ZERO_SPAN)
        and all(check_service(s, limits) is None for s in set(service))
        and set(map(type, operations)) <= _STR
        and all(0 < len(o) <= limits.max_name_length for o in operations)
        and set(map(type, start)) <= _INT
        and set(map(type, end)) <= _INT
        and all(map(operator.le, start, end))
        and set(kind) <= _KINDS
        and set(status) <= _STATUSES
        and set(map(type, message)) <= _STR
        and _text_maps(tags)
        and max(map(len, tags), default=0) <= limits.max_span_attributes
        and set(map(type, events)) <= _LIST
        and max(map(len, events), default=0) <= limits.max_span_events
    ):
        return None
    flat = list(chain.from_iterable(events))
    if flat and not (
        set(map(type, flat)) <= _DICT
        and set(map(type, [e["ts_ns"] for e in flat])) <= _INT
        and set(map(type, [e["message"] for e in flat])) <= _STR
        and set(map(type, [e.get("level", "info") for e in flat])) <= _STR
        and _text_maps([e.get("attributes", {}) for e in flat])
    ):
        return None
    return SpanArrays(
        trace_id=trace,
        span_id=span_id,
        parent_span_id=present if len(present) == len(parents) else ["" if p is None else p for p in parents],
        service=service,
        operation=operation,
        start_ns=start,
        end_ns=end,
        kind=kind,
        status=status,
        status_message=message,
        tags=tags,
        event_ts=[tuple([e["ts_ns"] for e in evs]) if evs else () for evs in events],
        event_message=[tuple([e["message"] for e in evs]) if evs else () for evs in events],
        event_level=[tuple([e.get("level", "info") for e in evs]) if evs else () for evs in events],
        event_attributes=[tuple([e.get("attributes", {}) for e in evs]) if evs else () for evs in events],
    )


def _decode_each(items: list[Any], limits: Limits) -> list[Span]:
    """The spans of ``items``, checked one by one: the first bad one raises, naming its index."""
    spans = []
    for index, raw in enumerate(items):
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
