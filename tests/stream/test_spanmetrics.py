"""RED metrics derived from spans: durations in ms at the span's end, calls and errors counted."""

from __future__ import annotations

from schemas import MetricKind, Span, SpanStatus
from schemas.spans import SpanArrays
from stream.spanmetrics import SPAN_CALLS, SPAN_DURATION, SPAN_ERRORS, span_metrics

T0 = 1_800_000_000_000_000_000  # epoch ns


def span(service: str, operation: str, start_ms: float, duration_ms: float, error: bool = False) -> Span:
    start = T0 + int(start_ms * 1e6)
    return Span(
        trace_id="1" * 32, span_id="2" * 16, parent_span_id=None, service=service, operation=operation,
        start_ns=start, end_ns=start + int(duration_ms * 1e6), status=SpanStatus.ERROR if error else SpanStatus.OK,
    )  # fmt: skip


def test_each_service_gets_duration_calls_and_errors_per_operation() -> None:
    batches = span_metrics(
        SpanArrays.of(
            [
                span("gateway", "GET /a", 0, 12.5),
                span("gateway", "GET /a", 5, 7.25, error=True),
                span("gateway", "GET /b", 1, 3.0),
                span("orchestrator", "plan", 2, 40.0),
            ]
        )
    )
    by_service = {b.service: {(s.name, s.labels["operation"]): s for s in b.series} for b in batches}
    gateway = by_service["gateway"]
    duration = gateway[(SPAN_DURATION, "GET /a")]
    assert duration.kind is MetricKind.DISTRIBUTION
    assert duration.values.tolist() == [12.5, 7.25]
    assert duration.ts.tolist() == [(T0 + 12_500_000) // 1_000_000, (T0 + 12_250_000) // 1_000_000]  # end times
    assert gateway[(SPAN_CALLS, "GET /a")].values.tolist() == [1.0, 1.0]
    assert gateway[(SPAN_CALLS, "GET /a")].kind is MetricKind.COUNTER
    assert gateway[(SPAN_ERRORS, "GET /a")].values.tolist() == [1.0]
    assert (SPAN_ERRORS, "GET /b") not in gateway  # no errors, no series
    assert set(by_service["orchestrator"]) == {(SPAN_DURATION, "plan"), (SPAN_CALLS, "plan")}


def test_no_spans_no_batches() -> None:
    assert span_metrics(SpanArrays.of([])) == []
