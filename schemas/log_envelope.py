"""The HTTP ingest envelope for log records, and the checks, redaction and batching every log ingest
path (SDK, HTTP envelope, OTLP) shares.

``POST /api/v1/ingest/logs`` takes ``{"service", "logs": [{"ts"?, "level", "message", "attributes"?,
"trace_id"?, "span_id"?}]}``; ``ts`` is epoch milliseconds (fractional allowed) or RFC 3339, default
now. :func:`parse_logs_envelope` validates a decoded JSON body whole, redacts it and packs it into
``logs`` records, or raises :class:`~schemas.envelope.EnvelopeError` naming every bad field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictStr,
)

from schemas.attributes import attribute_text, check_attributes, text_bytes
from schemas.checks import check_service, check_timestamp
from schemas.envelope import EnvelopeError, FieldError, validate_envelope
from schemas.limits import Limits
from schemas.logs import LogLevel, LogRecord
from schemas.redact import Redactor
from schemas.spans import SPAN_ID, TRACE_ID
from schemas.timeparse import parse_timestamp_ns

__all__ = [
    "MAX_LOGS_PER_RECORD",
    "LogIn",
    "LogsEnvelope",
    "Scalar",
    "TimeIn",
    "check_log_fields",
    "pack_logs",
    "parse_level",
    "parse_logs_envelope",
    "redact_log",
]

MAX_LOGS_PER_RECORD: Final = 500  # log records per Kafka record we write
_RECORD_OVERHEAD_BYTES: Final = 160  # the JSON keys and numbers around one record's texts
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16

# Names of levels as loggers and protocols spell them, lowercased.
_LEVELS: Final = {
    **{level.value: level for level in LogLevel},
    "warning": LogLevel.WARN,
    "critical": LogLevel.FATAL,
    "panic": LogLevel.FATAL,
    "err": LogLevel.ERROR,
    "information": LogLevel.INFO,
    "notice": LogLevel.INFO,
    "dbg": LogLevel.DEBUG,
    "trc": LogLevel.TRACE,
}


def parse_level(level: str | LogLevel) -> LogLevel:
    """A level from its name (case-insensitive; ``warning``, ``critical`` and a few other aliases
    accepted). Raises ``ValueError`` naming the value."""
    if isinstance(level, LogLevel):
        return level
    found = _LEVELS.get(level.strip().lower()) if isinstance(level, str) else None
    if found is None:
        raise ValueError(f"level {level!r} must be one of trace, debug, info, warn, error, fatal")
    return found


def _time_input(value: object) -> int | float | str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be epoch milliseconds (a number) or an RFC 3339 string")
    return value


def _scalar(value: object) -> object:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise ValueError("must be a string, number, boolean or null")


TimeIn = Annotated[int | float | str, PlainValidator(_time_input, json_schema_input_type=int | float | str)]
# Any JSON scalar, stored as text.
Scalar = Annotated[object, PlainValidator(_scalar, json_schema_input_type=str | bool | int | float | None)]


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ts: TimeIn | None = Field(default=None, description="epoch ms (fractional allowed) or RFC 3339; default now")
    level: StrictStr = Field(description="trace, debug, info, warn, error or fatal")
    message: StrictStr
    attributes: dict[StrictStr, Scalar] | None = None
    trace_id: StrictStr | None = Field(default=None, description="32 hex digits, when logged inside a span")
    span_id: StrictStr | None = Field(default=None, description="16 hex digits")


class LogsEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: StrictStr
    logs: list[LogIn]


def check_log_fields(record: LogRecord, now_ms: int, limits: Limits) -> tuple[str, str] | None:
    """None when the record may be stored, else ``(field, reason)``; ``field`` is the envelope's name
    of the offending field. Adds to :func:`~schemas.logs.check_log` the timestamp skew, the
    attribute sizes and all-zero ids."""
    if (problem := check_service(record.service, limits)) is not None:
        return "service", problem
    if (problem := check_timestamp(record.ts_ns // 1_000_000, now_ms, limits)) is not None:
        return "ts", problem
    if len(record.message) > limits.max_message_length:
        return "message", f"message is {len(record.message)} characters long, the limit is {limits.max_message_length}"
    if (problem := check_attributes(record.attributes, limits, "attributes")) is not None:
        return "attributes", problem
    if record.trace_id is not None and (not TRACE_ID.match(record.trace_id) or record.trace_id == _ZERO_TRACE):
        return "trace_id", f"trace id {record.trace_id!r} must be 32 lowercase hex digits, not all zero"
    if record.span_id is not None and (not SPAN_ID.match(record.span_id) or record.span_id == _ZERO_SPAN):
        return "span_id", f"span id {record.span_id!r} must be 16 lowercase hex digits, not all zero"
    return None


def redact_log(record: LogRecord, redactor: Redactor) -> LogRecord:
    """Mask secrets in the record's message and attributes, in place; returns the record."""
    record.message = redactor.text(record.message)
    if record.attributes:
        record.attributes = redactor.attributes(record.attributes)
    return record


def _log_bytes(record: LogRecord) -> int:
    size = _RECORD_OVERHEAD_BYTES + text_bytes(record.message) + len(record.service)
    for key, value in record.attributes.items():
        size += text_bytes(key) + text_bytes(value) + 6
    return size


def pack_logs(records: Iterable[LogRecord], limits: Limits) -> list[list[LogRecord]]:
    """Group records by service (a ``logs`` record holds one service's records, keyed by it) into
    batches of at most :data:`MAX_LOGS_PER_RECORD` records and about ``limits.max_record_bytes``."""
    by_service: dict[str, list[LogRecord]] = {}
    for record in records:
        by_service.setdefault(record.service, []).append(record)
    batches: list[list[LogRecord]] = []
    for service_records in by_service.values():
        batch: list[LogRecord] = []
        size = 0
        for record in service_records:
            record_size = _log_bytes(record)
            if batch and (len(batch) >= MAX_LOGS_PER_RECORD or size + record_size > limits.max_record_bytes):
                batches.append(batch)
                batch, size = [], 0
            batch.append(record)
            size += record_size
        if batch:
            batches.append(batch)
    return batches


def _optional_id(value: str | None) -> str | None:
    return value.lower() if value else None  # "" means "not inside a span", as OTLP's empty bytes


def parse_logs_envelope(body: Any, now_ms: int, limits: Limits, redactor: Redactor) -> list[list[LogRecord]]:
    """Validate a decoded JSON body, redact it and return it as batches for ``logs`` records.

    Raises :class:`~schemas.envelope.EnvelopeError` with every field-level reason found; then
    nothing of the body may be stored.
    """
    envelope = validate_envelope(body, LogsEnvelope, "logs", "log record", limits.max_records_per_batch)
    errors: list[FieldError] = []
    service_problem = check_service(envelope.service, limits)
    if service_problem is not None:
        errors.append(FieldError("service", service_problem))
    records: list[LogRecord] = []
    for i, item in enumerate(envelope.logs):
        ts_ns = now_ms * 1_000_000
        if item.ts is not None:
            try:
                ts_ns = parse_timestamp_ns(item.ts)
            except ValueError as exc:
                errors.append(FieldError(f"logs[{i}].ts", str(exc)))
        try:
            level = parse_level(item.level)
        except ValueError as exc:
            errors.append(FieldError(f"logs[{i}].level", str(exc)))
            level = LogLevel.INFO
        record = LogRecord(
            ts_ns=ts_ns,
            service=envelope.service,
            level=level,
            message=item.message,
            attributes={k: attribute_text(v) for k, v in item.attributes.items()} if item.attributes else {},
            trace_id=_optional_id(item.trace_id),
            span_id=_optional_id(item.span_id),
        )
        # A bad envelope service is reported once, at "service": check the record's other fields.
        checked = replace(record, service="_") if service_problem is not None else record
        if (problem := check_log_fields(checked, now_ms, limits)) is not None:
            errors.append(FieldError(f"logs[{i}].{problem[0]}", problem[1]))
        if len(errors) >= 100:
            break
        records.append(record)
    if errors:
        raise EnvelopeError("invalid logs batch", errors)
    return pack_logs((redact_log(r, redactor) for r in records), limits)
