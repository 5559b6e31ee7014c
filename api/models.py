"""The OpenAPI models of the API's answers: what ``/docs`` shows and typed clients are generated from.

Routes declare these as ``response_model`` but return the bodies they build (dicts serialized by
orjson): a query answer of thousands of points is not validated again on its way out. The models
forbid unknown fields, so a test that validates real answers against them catches any drift.
Times named ``start``/``end``/``last_seen`` are epoch milliseconds; span and log times are epoch
milliseconds with a fraction (microsecond resolution); every ``*_ms`` is a duration in milliseconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas import LogLevel, MetricKind, SpanKind, SpanStatus
from schemas.errors import ErrorBody

__all__ = [
    "Alive",
    "BatchItem",
    "BatchResult",
    "CriticalSection",
    "Dependencies",
    "DependencyEdge",
    "HeatmapResult",
    "LogOut",
    "LogsPage",
    "MetricSummary",
    "MetricsCatalog",
    "QueryPoint",
    "QueryResult",
    "QuerySeries",
    "Readiness",
    "ReadinessChecks",
    "Red",
    "ServiceSummary",
    "ServicesCatalog",
    "SpanEventOut",
    "SpanOut",
    "SpanRedOut",
    "StageHealth",
    "TraceDetail",
    "TraceSummaryOut",
    "TracesPage",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Range(_Out):
    start: int = Field(description="start of the range, epoch ms (inclusive)")
    end: int = Field(description="end of the range, epoch ms (exclusive)")


# --- GET /api/v1/query


class QueryPoint(_Out):
    """One bucket of a series: ``t`` and each requested statistic (only those); null where a
    statistic is undefined (an empty bucket's average, a percentile of no observation)."""

    t: int = Field(description="bucket start, epoch ms")
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    p999: float | None = None
    min: float | None = None
    max: float | None = None
    avg: float | None = None
    count: int | None = Field(default=None, description="observations (distributions, gauges) or increments")
    sum: float | None = None
    rate: float | None = Field(default=None, description="per second: observations, or the counter's increments")


class QuerySeries(_Out):
    group: dict[str, str] = Field(description="group_by dimension -> value")
    points: list[QueryPoint]


class QueryResult(_Range):
    metric: str
    step_ms: int | None = Field(description="bucket size; null: one bucket over the whole range")
    series: list[QuerySeries]


# --- POST /api/v1/query/batch


class BatchItem(_Out):
    """One query's answer in a batch: ``result`` when ``status`` is 200, else ``error``."""

    status: int = Field(description="the status GET /api/v1/query would answer this query with")
    result: QueryResult | None = None
    error: ErrorBody | None = None


class BatchResult(_Out):
    results: list[BatchItem] = Field(description="one per query, in the order of the queries")


# --- GET /api/v1/services and /api/v1/metrics


class _RedFigures(_Out):
    requests: int
    rate: float = Field(description="requests per second over the range")
    errors: int = Field(description="failed requests: status_code 5xx (red), status error (span_red)")
    error_rate: float = Field(description="errors / requests")
    p50: float | None = Field(description="request duration, ms")
    p95: float | None
    p99: float | None


class Red(_RedFigures):
    """Rate, errors and duration of a service's requests, from ``http.server.duration``."""


class SpanRedOut(_RedFigures):
    """Rate, errors and duration of a service's requests, from its spans."""

    basis: Literal["server", "root"] = Field(description="its SERVER spans, or its root spans when it serves none")


class ServiceSummary(_Out):
    service: str
    metrics: int = Field(description="distinct metric names in the range")
    points: int = Field(description="metric points in the range")
    last_seen: int = Field(description="epoch ms of its newest window or span")
    red: Red | None = Field(description="null: no http.server.duration in the range")
    span_red: SpanRedOut | None = Field(description="null: no span to compute it from")


class ServicesCatalog(_Range):
    services: list[ServiceSummary]


class MetricSummary(_Out):
    name: str
    kind: MetricKind
    services: list[str]
    series: int = Field(description="distinct (service, labels) combinations in the range")
    points: int
    last_seen: int = Field(description="epoch ms of the newest window holding the metric")


class MetricsCatalog(_Range):
    metrics: list[MetricSummary]


# --- GET /api/v1/traces/{trace_id}, /api/v1/traces, /api/v1/dependencies


class SpanEventOut(_Out):
    ts: float = Field(description="epoch ms")
    message: str
    level: str
    attributes: dict[str, str]


class SpanOut(_Out):
    span_id: str
    parent_span_id: str | None
    depth: int = Field(description="0 for the root and for orphans")
    orphan: bool = Field(description="its parent span is not stored")
    children: list[str] = Field(description="ids of its child spans, by start")
    service: str
    operation: str
    kind: SpanKind
    status: SpanStatus
    status_message: str
    start: float = Field(description="epoch ms")
    duration_ms: float
    self_ms: float = Field(description="time spent outside its children")
    critical_ms: float = Field(description="its share of the critical path")
    tags: dict[str, str]
    events: list[SpanEventOut]


class CriticalSection(_Out):
    span_id: str
    service: str
    operation: str
    start: float = Field(description="epoch ms")
    duration_ms: float


class TraceDetail(_Out):
    trace_id: str
    start: float = Field(description="epoch ms of the earliest span start")
    duration_ms: float
    span_count: int
    error_count: int
    services: list[str]
    root_span_id: str
    orphans: int
    truncated: bool = Field(description="the trace has more spans than one answer holds")
    critical_path: list[CriticalSection] = Field(description="in time order, covering the root span")
    spans: list[SpanOut] = Field(description="in tree order: parents before children, children by start")


class TraceSummaryOut(_Out):
    trace_id: str
    root_service: str = Field(description="of the root span, or of the earliest span when the root is missing")
    root_operation: str
    start: float = Field(description="epoch ms of the earliest span start")
    duration_ms: float
    span_count: int
    error_count: int
    services: list[str]


class TracesPage(_Range):
    traces: list[TraceSummaryOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class DependencyEdge(_Out):
    caller: str
    callee: str
    calls: int
    errors: int = Field(description="callee spans that failed")
    error_rate: float
    p95_ms: float = Field(description="of the callee spans' durations")


class Dependencies(_Range):
    services: list[str]
    edges: list[DependencyEdge]


# --- GET /api/v1/logs


class LogOut(_Out):
    ts: float = Field(description="epoch ms")
    service: str
    level: LogLevel
    message: str
    attributes: dict[str, str]
    trace_id: str | None
    span_id: str | None


class LogsPage(_Range):
    logs: list[LogOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


# --- GET /healthz, /readyz


class Alive(_Out):
    status: Literal["ok"]


class ReadinessChecks(_Out):
    kafka: Literal["ok", "unreachable"]
    storage: Literal["ok", "unreachable"]


class StageHealth(_Out):
    ok: bool = Field(description="the stage does its job now")
    detail: str = Field(description="why not, or what it is doing")


class Readiness(_Out):
    status: Literal["ready", "not ready"] = Field(description="ready: Kafka and storage are reachable")
    checks: ReadinessChecks
    stages: dict[str, StageHealth] = Field(description="the stages this process runs (sink, notifier), by name")


# --- GET /api/v1/heatmap


class HeatmapResult(_Range):
    """Observations per time bucket and value bucket, regrouped from the stored histograms: the
    counts sum to ``total``, every observation of the range."""

    metric: str
    step_ms: int = Field(description="time bucket size; buckets start at multiples of it (epoch-aligned)")
    edges: list[float] = Field(
        description="value bucket bounds, increasing, equal steps on a log scale (the metric's unit: ms for "
        "durations); bucket j holds (edges[j], edges[j+1]], the first also values up to 1e-9"
    )
    times: list[int] = Field(description="starts of the time buckets holding observations, epoch ms, increasing")
    counts: list[list[int]] = Field(description="per time bucket of times, observations per value bucket")
    total: int = Field(description="observations of the range: the sum of counts")
