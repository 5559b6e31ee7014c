"""What a Kafka record is: the type header every producer sets, so a consumer decodes each record once.

Topics carry more than one kind of record (``metrics`` and ``spans`` also carry the stream stage's
window ticks), and a consumer that guessed by trying one decoder and then another would parse a
record twice. Every producer therefore names the record's type in the header :data:`TYPE_HEADER`
(:func:`type_headers`), and every consumer dispatches on :func:`record_type` before decoding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum

import orjson

__all__ = ["TYPE_HEADER", "Headers", "RecordType", "record_type", "type_headers", "unreadable_reason"]

TYPE_HEADER = "perfpulse-type"

# How Kafka clients hand headers over: aiokafka as a sequence of (name, value) pairs, Faust as
# either that or a mapping.
Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


class RecordType(StrEnum):
    """The kinds of record perfpulse writes; each value is also the record's JSON ``"type"``."""

    METRICS = "metrics"  # a batch of metric points of one service (schemas/wire.py)
    TICK = "tick"  # the stream stage's window tick, in the metrics and spans partitions it owns
    SPANS = "spans"  # a batch of spans (schemas/spans.py)
    LOGS = "logs"  # a batch of log records (schemas/logs.py)
    ROLLUPS = "rollups"  # closed-window aggregates of one tick chunk (schemas/wire.py)
    ALERT_TRANSITION = "alert-transition"  # one alert's change of state (schemas/alerts.py)
    ALERT_STATES = "alert-states"  # the alert state of one source partition (schemas/alerts.py)
    DEADLETTER = "deadletter"  # a record some stage rejected, with the reason (schemas/wire.py)


_TYPES = {t.value.encode(): t for t in RecordType}
# Every perfpulse encoder writes "type" as the first key of its JSON object.
_JSON_TYPE = re.compile(rb'\A\s*\{\s*"type"\s*:\s*"([a-z-]{1,32})"')


def type_headers(kind: RecordType) -> list[tuple[str, bytes]]:
    """The headers of a record of type ``kind``."""
    return [(TYPE_HEADER, kind.value.encode())]


def record_type(headers: Headers, value: bytes) -> RecordType | None:
    """The type a record names in its :data:`TYPE_HEADER`; None when it names none perfpulse knows.

    Records written before the header existed carry none: their JSON ``"type"``, which every
    encoder writes first, names them instead, read from the first bytes without parsing the record
    (so it is still decoded once).
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, raw in pairs:
        if name == TYPE_HEADER:
            return _TYPES.get(bytes(raw))
    found = _JSON_TYPE.match(value[:64])
    return _TYPES.get(found.group(1)) if found else None


def unreadable_reason(headers: Headers, value: bytes, topic: str) -> str:
    """Why a record is not one ``topic`` carries, for its dead letter: the type it names, or why it
    names none (no header and not JSON, or JSON of a type perfpulse does not write). Only called
    for a record already refused, so the parse here never adds to the hot path."""
    kind = record_type(headers, value)
    if kind is not None:
        return f"cannot read a record of type {kind.value!r} on topic {topic}"
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    named = [bytes(raw) for name, raw in pairs if name == TYPE_HEADER]
    if named:
        return f"cannot read a record on topic {topic}: unknown {TYPE_HEADER} header {named[0]!r}"
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return f"cannot read a record on topic {topic}: no {TYPE_HEADER} header and invalid JSON ({exc})"
    found = obj.get("type") if isinstance(obj, dict) else None
    return f"cannot read a record on topic {topic}: no {TYPE_HEADER} header and JSON of unknown type {found!r}"
