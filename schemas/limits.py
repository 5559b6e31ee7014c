"""Validation limits shared by every ingest path (SDK, HTTP, OTLP) and by the stream stage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "LABEL_KEY_PATTERN",
    "MAX_DURATION_MS",
    "MAX_TIME_MS",
    "METRIC_NAME_PATTERN",
    "RESERVED_LABELS",
    "SERVICE_PATTERN",
    "Limits",
    "check_epoch_ms",
    "check_epoch_ns",
]

METRIC_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/\-]*$")
SERVICE_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/\-]*$")
LABEL_KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# "service" is a dimension of its own (the envelope's service), never a label.
RESERVED_LABELS = frozenset({"service"})

# The last millisecond whose nanoseconds fit a signed 64-bit integer (2262-04-11T23:47:16.854Z):
# spans and logs are stored in nanoseconds, so no time or duration past it can be stored.
MAX_TIME_MS: Final = (2**63 - 1) // 1_000_000
MAX_DURATION_MS: Final = MAX_TIME_MS


def check_epoch_ms(ms: int, what: str = "timestamp") -> str | None:
    """None when epoch milliseconds ``ms`` can be stored (1970 to 2262), else the reason naming it."""
    return None if 0 <= ms <= MAX_TIME_MS else _outside(what, ms, "ms")


def check_epoch_ns(ns: int, what: str = "timestamp") -> str | None:
    """:func:`check_epoch_ms` for epoch nanoseconds."""
    return None if 0 <= ns <= MAX_TIME_MS * 1_000_000 else _outside(what, ns, "ns")


def _outside(what: str, value: int, unit: str) -> str:
    # Not str() of any size: Python refuses to print integers of more than 4,300 digits.
    shown = str(value) if value.bit_length() <= 80 else f"{'-' if value < 0 else ''}(a {value.bit_length()}-bit number)"
    return (
        f"{what} {shown} {unit} is outside what the store holds: epoch ms from 0 (1970) to {MAX_TIME_MS} (2262-04-11)"
    )


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
