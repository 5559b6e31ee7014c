"""The shared contract of perfpulse's stages: topic names, wire encoding, validation limits, models."""

from schemas.envelope import EnvelopeError, FieldError, MetricsEnvelope, parse_metrics_envelope
from schemas.errors import error_body
from schemas.limits import Limits
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
    encode_deadletter,
    encode_metric_batch,
    encode_rollups,
    encode_tick,
    pack_records,
)

__all__ = [
    "DEFAULT_PREFIX",
    "DeadLetter",
    "EnvelopeError",
    "FieldError",
    "Limits",
    "MetricBatch",
    "MetricKind",
    "MetricsEnvelope",
    "RollupBatch",
    "RollupRow",
    "SeriesPoints",
    "Tick",
    "Topics",
    "WireError",
    "decode_deadletter",
    "decode_metrics_record",
    "decode_rollups",
    "encode_deadletter",
    "encode_metric_batch",
    "encode_rollups",
    "encode_tick",
    "error_body",
    "pack_records",
    "parse_duration_ms",
    "parse_metrics_envelope",
    "parse_timestamp_ms",
]
