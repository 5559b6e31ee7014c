"""The CPU work of one OTLP request as a pure function of its body: inflate, decode, convert,
redact, batch and encode to Kafka record bytes, in an ingest worker process or on a thread
(:mod:`ingest.receivers.offload`). A request that cannot be read comes back as a
:class:`~ingest.receivers.encode.Refusal` (status and message), never as an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest.producer import Record, log_records, span_records
from ingest.producer import metric_records as encode_metrics
from ingest.receivers.cumulative_worker import deltas
from ingest.receivers.encode import Encoded, Refusal
from ingest.receivers.inflate import InflateError, RawBody, inflate
from ingest.receivers.otlp.common import Encoding, OtlpError, Rejections, decode_request
from ingest.receivers.otlp.logs import convert_logs
from ingest.receivers.otlp.metrics import convert_metrics
from ingest.receivers.otlp.traces import convert_traces
from schemas import Limits, RecordType, Redactor
from schemas.log_envelope import pack_logs
from schemas.span_envelope import pack_spans

__all__ = ["metric_records", "signal_records"]

M = TypeVar("M", bound=Message)


def _decoded(raw: RawBody, encoding: Encoding, message: M, limit: int) -> M | Refusal:
    """``message`` filled from the body (inflated first), or why it cannot be."""
    try:
        return decode_request(inflate(raw, limit), encoding, message)
    except InflateError as exc:
        return Refusal.of_inflate(exc)
    except OtlpError as exc:
        return Refusal(exc.status, exc.message)


Converted = tuple[list[Record], int, Rejections]  # records, items they hold, items rejected


def _spans(request: ExportTraceServiceRequest, now_ms: int, limits: Limits, redactor: Redactor) -> Converted:
    converted = convert_traces(request, now_ms, limits, redactor)
    return span_records(pack_spans(converted.spans, limits)), len(converted.spans), converted.rejected


def _logs(request: ExportLogsServiceRequest, now_ms: int, limits: Limits, redactor: Redactor) -> Converted:
    converted = convert_logs(request, now_ms, limits, redactor)
    return log_records(pack_logs(converted.records, limits)), len(converted.records), converted.rejected


_SIGNALS: Final[dict[RecordType, tuple[type[Message], Callable[[Any, int, Limits, Redactor], Converted]]]] = {
    RecordType.SPANS: (ExportTraceServiceRequest, _spans),
    RecordType.LOGS: (ExportLogsServiceRequest, _logs),
}


def signal_records(
    raw: RawBody, kind: RecordType, encoding: Encoding, now_ms: int, limits: Limits, redactor: Redactor
) -> Encoded | Refusal:
    """An ``ExportTraceServiceRequest`` (``kind`` spans) or ``ExportLogsServiceRequest`` (logs) as
    Kafka records; items failing the checks are left out and counted with reasons."""
    if kind not in _SIGNALS:
        raise ValueError(f"OTLP signal must be spans or logs, got {kind!r}")
    message, convert = _SIGNALS[kind]
    request = _decoded(raw, encoding, message(), limits.max_body_bytes)
    if isinstance(request, Refusal):
        return request
    records, accepted, rejected = convert(request, now_ms, limits, redactor)
    return Encoded(kind, records, accepted, rejected.count, rejected.message())


def metric_records(raw: RawBody, encoding: Encoding, now_ms: int, limits: Limits) -> Encoded | Refusal:
    """An ``ExportMetricsServiceRequest`` as Kafka records (``accepted``: the values written), run
    in the cumulative worker process (:mod:`ingest.receivers.cumulative_worker`): cumulative totals
    are staged in its memory, and totals staged by an earlier request that was not committed
    (Kafka failed it) are forgotten first."""
    memory = deltas()
    memory.discard()
    request = _decoded(raw, encoding, ExportMetricsServiceRequest(), limits.max_body_bytes)
    if isinstance(request, Refusal):
        return request
    converted = convert_metrics(request, now_ms, limits, memory)
    records = encode_metrics(converted.batches)
    return Encoded(
        RecordType.METRICS, records, converted.points, converted.rejected.count, converted.rejected.message()
    )
