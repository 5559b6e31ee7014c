"""Validation limits shared by every ingest path (SDK, HTTP, OTLP) and by the stream stage."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LABEL_KEY_PATTERN", "METRIC_NAME_PATTERN", "RESERVED_LABELS", "SERVICE_PATTERN", "Limits"]

METRIC_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/\-]*$")
SERVICE_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/\-]*$")
LABEL_KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# "service" is a dimension of its own (the envelope's service), never a label.
RESERVED_LABELS = frozenset({"service"})


@dataclass(frozen=True, slots=True)
class Limits:
    """What one accepted batch may hold. Defaults suit HTTP clients and the SDK alike."""

    max_name_length: int = 200  # characters in a metric name
    max_service_length: int = 100  # characters in a service name
    max_labels: int = 32  # labels on one point, envelope labels included
    max_label_key_length: int = 100
    max_label_value_length: int = 1024
    max_points_per_batch: int = 50_000  # points in one HTTP request, and at most in one Kafka record
    max_points_per_record: int = 2_000  # points per Kafka record we write (~70 KB, far below 1 MiB)
    max_record_bytes: int = 512 * 1024  # encoded size a record we write stays under (Kafka's default cap: 1 MiB)
    max_abs_value: float = 1e18  # larger magnitudes are refused: sums of them could overflow a float
    max_span_attributes: int = 128  # tags on one span, attributes on one log record
    max_span_events: int = 128  # logs (events) on one span
    max_attribute_value_length: int = 8_192  # characters in one tag or attribute value
    max_message_length: int = 32_768  # characters in one log message
    max_records_per_batch: int = 10_000  # spans or log records in one HTTP request
    max_body_bytes: int = 16 * 1024 * 1024  # HTTP request body, after decompression
    max_past_ms: int = 24 * 3_600_000  # oldest accepted timestamp, relative to now
    max_future_ms: int = 10 * 60_000  # newest accepted timestamp, relative to now
