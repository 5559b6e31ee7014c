"""The shared contract of perfpulse's stages: topic names, wire encoding, validation limits, models."""

from schemas.envelope import EnvelopeError, FieldError, MetricsEnvelope, parse_metrics_envelope
from schemas.errors import error_body
from schemas.limits import Limits
from schemas.logs import LogLevel, LogRecord, decode_logs, encode_logs
from schemas.records import TYPE_HEADER, RecordType, record_type, type_headers, unreadable_reason
from schemas.redact import Redactor
from schemas.replay import ReplayFilter, past_end
from schemas.spans import Span, SpanEvent, SpanKind, SpanStatus, decode_spans, encode_spans
from schemas.timeparse import parse_duration_ms, parse_timestamp_ms
from schemas.topics import DEFAULT_PREFIX, Topics
from schemas.wire import (
    DeadLetter,
    MetricBatch,
    MetricKind,
    RollupBatch,
    RollupRow,
    SeriesPoints,
    Tick,
    WireError,
    decode_deadletter,
    decode_metrics_record,
    decode_rollups,
    decode_tick,
    encode_deadletter,
    encode_metric_batch,
    encode_rollups,
    encode_tick,
    pack_records,
)

__all__ = [
    "DEFAULT_PREFIX",
    "TYPE_HEADER",
    "DeadLetter",
    "EnvelopeError",
    "FieldError",
    "Limits",
    "LogLevel",
    "LogRecord",
    "MetricBatch",
    "MetricKind",
    "MetricsEnvelope",
    "RecordType",
    "Redactor",
    "ReplayFilter",
    "RollupBatch",
    "RollupRow",
    "SeriesPoints",
    "Span",
    "SpanEvent",
    "SpanKind",
    "SpanStatus",
    "Tick",
    "Topics",
    "WireError",
    "decode_deadletter",
    "decode_logs",
    "decode_metrics_record",
    "decode_rollups",
    "decode_spans",
    "decode_tick",
    "encode_deadletter",
    "encode_logs",
    "encode_metric_batch",
    "encode_rollups",
    "encode_spans",
    "encode_tick",
    "error_body",
    "pack_records",
    "parse_duration_ms",
    "parse_metrics_envelope",
    "parse_timestamp_ms",
    "past_end",
    "record_type",
    "type_headers",
    "unreadable_reason",
]
