"""OTLP logs -> perfpulse log records.

- service: the resource's ``service.name``.
- time: ``time_unix_nano``, else ``observed_time_unix_nano``, else now.
- level: from ``severity_number`` (1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error,
  21-24 fatal), else from ``severity_text`` when it names a level, else info.
- message: the body (a string as it is; any other value as JSON text); attributes as text;
  trace and span ids as hex (absent when empty).

A record that fails the checks every ingest path applies (:func:`~schemas.log_envelope.check_log_fields`)
is rejected alone and counted in ``partial_success``; the others are redacted and stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as OtlpLogRecord

from ingest.receivers.otlp.common import Rejections, any_value, attributes_of, hex_id, service_of
from schemas import Limits, LogLevel, LogRecord, Redactor
from schemas.attributes import attribute_text
from schemas.log_envelope import check_log_fields, parse_level, redact_log

__all__ = ["ConvertedLogs", "convert_logs", "level_of_severity"]

_BY_SEVERITY: Final = (LogLevel.TRACE, LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR, LogLevel.FATAL)


@dataclass
class ConvertedLogs:
    records: list[LogRecord] = field(default_factory=list)
    rejected: Rejections = field(default_factory=Rejections)


def level_of_severity(number: int, text: str) -> LogLevel:
    """Our level of an OTLP severity (number first; the text when the number is unspecified)."""
    if 1 <= number <= 24:
        return _BY_SEVERITY[(number - 1) // 4]
    if text:
        try:
            return parse_level(text)
        except ValueError:
            pass
    return LogLevel.INFO


def convert_logs(request: ExportLogsServiceRequest, now_ms: int, limits: Limits, redactor: Redactor) -> ConvertedLogs:
    """The acceptable log records of ``request``, redacted, and the rejected ones counted with reasons."""
    out = ConvertedLogs()
    now_ns = now_ms * 1_000_000
    for r, resource_logs in enumerate(request.resource_logs):
        service = service_of(resource_logs.resource)
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            for i, otlp in enumerate(scope_logs.log_records):
                record = _record(otlp, service, now_ns)
                problem = check_log_fields(record, now_ms, limits)
                if problem is not None:
                    where = f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}].{problem[0]}"
                    out.rejected.add(f"{where}: {problem[1]}")
                    continue
                out.records.append(redact_log(record, redactor))
    return out


def _record(otlp: OtlpLogRecord, service: str, now_ns: int) -> LogRecord:
    body = otlp.body
    kind = body.WhichOneof("value")
    if kind == "string_value":
        message = body.string_value
    elif kind is None:
        message = ""
    else:
        message = attribute_text(any_value(body))
    return LogRecord(
        ts_ns=otlp.time_unix_nano or otlp.observed_time_unix_nano or now_ns,
        service=service,
        level=level_of_severity(otlp.severity_number, otlp.severity_text),
        message=message,
        attributes=attributes_of(otlp.attributes),
        trace_id=_correlation_id(otlp.trace_id),
        span_id=_correlation_id(otlp.span_id),
    )


def _correlation_id(raw: bytes) -> str | None:
    """A trace or span id; None when absent or all zero (some SDKs send zeros outside a span)."""
    return hex_id(raw) if raw.strip(b"\0") else None
