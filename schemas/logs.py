"""Log records (structured logs, correlated with traces) and their Kafka wire encoding.

A ``logs`` record carries a batch of log records of one service, keyed by the service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from schemas.checks import check_service
from schemas.limits import Limits
from schemas.spans import SPAN_ID, TRACE_ID
from schemas.wire import WireError, decode_items

__all__ = ["LogLevel", "LogRecord", "check_log", "decode_logs", "encode_logs"]

_DEFAULT_LIMITS = Limits()


class LogLevel(StrEnum):
    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"


@dataclass(slots=True)
class LogRecord:
    ts_ns: int  # epoch ns
    service: str
    level: LogLevel
    message: str
    attributes: dict[str, str] = field(default_factory=dict)
    trace_id: str | None = None  # 32 lowercase hex, when logged inside a span
    span_id: str | None = None  # 16 lowercase hex


def check_log(record: LogRecord, limits: Limits) -> str | None:
    """None when the record is acceptable, else the reason (naming the offending value)."""
    if (problem := check_service(record.service, limits)) is not None:
        return problem
    if len(record.message) > limits.max_message_length:
        return f"message is {len(record.message)} characters long, the limit is {limits.max_message_length}"
    if len(record.attributes) > limits.max_span_attributes:
        return f"{len(record.attributes)} attributes, the limit is {limits.max_span_attributes}"
    if record.trace_id is not None and not TRACE_ID.match(record.trace_id):
        return f"trace id {record.trace_id!r} must be 32 lowercase hex digits"
    if record.span_id is not None and not SPAN_ID.match(record.span_id):
        return f"span id {record.span_id!r} must be 16 lowercase hex digits"
    return None


def _log_dict(record: LogRecord) -> dict[str, Any]:
    return {
        "ts_ns": record.ts_ns,
        "service": record.service,
        "level": record.level.value,
        "message": record.message,
        "attributes": record.attributes,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
    }


def encode_logs(records: list[LogRecord]) -> bytes:
    """Encode a batch of log records as the value of one ``logs`` record."""
    return orjson.dumps({"type": "logs", "v": 1, "logs": [_log_dict(r) for r in records]})


def decode_logs(data: bytes, limits: Limits = _DEFAULT_LIMITS) -> list[LogRecord]:
    """Decode and validate one ``logs`` record; :class:`~schemas.wire.WireError` says why not."""
    records = []
    for index, raw in enumerate(decode_items(data, "logs")):
        try:
            ts = raw["ts_ns"]
            if not isinstance(ts, int) or isinstance(ts, bool):
                raise TypeError(f"ts_ns must be an integer, got {ts!r}")
            attributes = raw.get("attributes", {})
            if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
                raise TypeError("attributes must be an object of strings")
            record = LogRecord(
                ts_ns=ts,
                service=str(raw["service"]),
                level=LogLevel(raw.get("level", "info")),
                message=str(raw["message"]),
                attributes=attributes,
                trace_id=raw.get("trace_id"),
                span_id=raw.get("span_id"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError(f"cannot decode logs[{index}]: {exc!r}") from None
        if (problem := check_log(record, limits)) is not None:
            raise WireError(f"logs[{index}]: {problem}")
        records.append(record)
    return records
