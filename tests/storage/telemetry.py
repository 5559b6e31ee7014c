"""Hand-built spans and log records for storage and API tests, stored through the sink's own column
buffers (so they are redacted as the sink redacts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schemas import LogLevel, LogRecord, Span, SpanEvent, SpanKind, SpanStatus
from schemas.spans import SpanArrays
from storage import Store
from storage.rows import LogColumns, SpanColumns
from tests.storage.builders import BASE_MS, SEEDED_PARTITION

BASE_NS = BASE_MS * 1_000_000
MS = 1_000_000  # ns


def trace_id(n: int) -> str:
    return f"{n:032x}"


def span_id(n: int) -> str:
    return f"{n:016x}"


def span(
    trace: int,
    sid: int,
    parent: int | None,
    start_ms: float,
    duration_ms: float,
    *,
    service: str = "gateway",
    operation: str = "op",
    kind: SpanKind = SpanKind.INTERNAL,
    status: SpanStatus = SpanStatus.UNSET,
    tags: Mapping[str, str] | None = None,
    events: list[SpanEvent] | None = None,
    base_ns: int = BASE_NS,
) -> Span:
    """A span of trace ``trace`` starting ``start_ms`` after ``base_ns``, ids from small numbers."""
    start = base_ns + round(start_ms * MS)
    return Span(
        trace_id=trace_id(trace),
        span_id=span_id(sid),
        parent_span_id=None if parent is None else span_id(parent),
        service=service,
        operation=operation,
        start_ns=start,
        end_ns=start + round(duration_ms * MS),
        kind=kind,
        status=status,
        tags=dict(tags or {}),
        events=events or [],
    )


def log(
    at_ms: float,
    message: str,
    *,
    service: str = "gateway",
    level: LogLevel = LogLevel.INFO,
    attributes: Mapping[str, str] | None = None,
    trace: int | None = None,
    base_ns: int = BASE_NS,
) -> LogRecord:
    return LogRecord(
        ts_ns=base_ns + round(at_ms * MS),
        service=service,
        level=level,
        message=message,
        attributes=dict(attributes or {}),
        trace_id=None if trace is None else trace_id(trace),
        span_id=None if trace is None else span_id(1),
    )


def insert_spans(store: Store, spans: Iterable[Span], partition: int = SEEDED_PARTITION, offset: int = 0) -> None:
    """Insert as the sink would, as if all came in the Kafka record at ``(partition, offset)``."""
    columns = SpanColumns()
    columns.add(partition, offset, SpanArrays.of(list(spans)))
    store.insert(*columns.take())


def insert_logs(store: Store, records: Iterable[LogRecord], partition: int = SEEDED_PARTITION, offset: int = 0) -> None:
    columns = LogColumns()
    columns.add(partition, offset, list(records))
    store.insert(*columns.take())
