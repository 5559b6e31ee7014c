"""The CPU work of one ingest request as a pure function of its body: inflate, decode, validate,
redact, batch and encode to Kafka record bytes.

Arguments and results are plain picklable data (bytes in, record bytes out), so the work runs in
an ingest worker process (:mod:`ingest.receivers.offload`), outside the API process's GIL, or on a
thread for a small body, with the same outcome either way. A body that cannot be stored comes back
as a :class:`Refusal` (its status and reasons), never as an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from ingest.producer import Record, RecordProducer, log_records, metric_records, span_records
from ingest.receivers.inflate import InflateError, RawBody, inflate
from schemas import EnvelopeError, Limits, RecordType, Redactor, parse_metrics_envelope
from schemas.log_envelope import parse_logs_envelope
from schemas.span_envelope import parse_spans_envelope

__all__ = ["Encoded", "Refusal", "envelope_records", "send_encoded"]


@dataclass(frozen=True, slots=True)
class Encoded:
    """Kafka records of ``kind`` ready to send, holding ``accepted`` items; ``rejected`` items were
    refused one by one (OTLP's partial success), ``reason`` says why."""

    kind: RecordType
    records: list[Record]
    accepted: int
    rejected: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A body that cannot be stored: answered ``status`` with ``error`` and field-level ``details``
    (``{"loc", "msg"}``); ``items`` it held are counted as rejected."""

    status: int
    error: str
    details: list[dict[str, Any]] = field(default_factory=list)
    items: int = 0

    @classmethod
    def of_inflate(cls, exc: InflateError) -> Refusal:
        return cls(exc.status, exc.error, [{"loc": "body", "msg": exc.msg}])

    def message(self) -> str:
        """One line: the error and its first reason (OTLP's ``google.rpc.Status`` message)."""
        return f"{self.error}: {self.details[0]['msg']}" if self.details else self.error


@dataclass(frozen=True, slots=True)
class _Envelope:
    key: str  # the body's list: "points", "spans", "logs"
    kind: RecordType
    parse: Callable[[Any, int, Limits, Redactor], Sequence[Any]]  # (body, now_ms, limits, redactor) -> batches
    records: Callable[[Any], list[Record]]


_ENVELOPES: Final = {
    RecordType.METRICS: _Envelope(
        "points",
        RecordType.METRICS,
        lambda body, now, limits, _: parse_metrics_envelope(body, now, limits),
        metric_records,
    ),
    RecordType.SPANS: _Envelope("spans", RecordType.SPANS, parse_spans_envelope, span_records),
    RecordType.LOGS: _Envelope("logs", RecordType.LOGS, parse_logs_envelope, log_records),
}


def envelope_records(
    raw: RawBody, kind: RecordType, now_ms: int, limits: Limits, redactor: Redactor
) -> Encoded | Refusal:
    """A perfpulse JSON envelope of ``kind`` (metrics, spans or logs) as Kafka records; refused
    whole (400 with every offending field, 413 past the size limit) when any item is invalid."""
    envelope = _ENVELOPES[kind]
    try:
        body = orjson.loads(inflate(raw, limits.max_body_bytes))  # codec: the HTTP request body
    except InflateError as exc:
        return Refusal.of_inflate(exc)
    except orjson.JSONDecodeError as exc:
        return Refusal(400, "invalid JSON", [{"loc": "body", "msg": str(exc)}])
    items = body.get(envelope.key) if isinstance(body, dict) else None
    n = len(items) if isinstance(items, list) else 0
    try:
        batches = envelope.parse(body, now_ms, limits, redactor)
    except EnvelopeError as exc:
        return Refusal(400, str(exc), [d.as_dict() for d in exc.details], n)
    return Encoded(kind, envelope.records(batches), n)


async def send_encoded(producer: RecordProducer, encoded: Encoded) -> None:
    """Send ``encoded``'s records to their topic; return once Kafka acknowledged all (the producer's
    :class:`~ingest.producer.KafkaUnavailable` or :class:`~ingest.producer.RecordRejected` otherwise)."""
    topics = producer.topics
    topic = {RecordType.METRICS: topics.metrics, RecordType.SPANS: topics.spans, RecordType.LOGS: topics.logs}
    await producer.send(topic[encoded.kind], encoded.kind, encoded.records)
