"""OTLP traces -> spans, in process: a rejected span is named by its place in the request, the others
are kept in order and redacted."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest.receivers.otlp.traces import convert_traces
from schemas import Limits, Redactor

NOW_MS = 1_800_000_000_000
NOW_NS = NOW_MS * 1_000_000


def request() -> ExportTraceServiceRequest:
    """Two resources: the first with an empty scope and a scope of two spans (the second with an
    all-zero trace id), the second with three spans (the first ending two days ago, the last with a
    token in a span log)."""
    message = ExportTraceServiceRequest()
    for r, (service, counts) in enumerate((("gateway", (0, 2)), ("quotes", (3,)))):
        resource_spans = message.resource_spans.add()
        resource_spans.resource.attributes.add(key="service.name").value.string_value = service
        for s, count in enumerate(counts):
            scope = resource_spans.scope_spans.add()
            for i in range(count):
                span = scope.spans.add(name=f"op {r}.{s}.{i}", trace_id=bytes([r + 1] * 16), span_id=bytes([i + 1] * 8))
                span.start_time_unix_nano, span.end_time_unix_nano = NOW_NS - 2_000_000, NOW_NS - 1_000_000
                span.attributes.add(key="password").value.string_value = "hunter2"
    message.resource_spans[0].scope_spans[1].spans[1].trace_id = bytes(16)
    message.resource_spans[1].scope_spans[0].spans[0].end_time_unix_nano = NOW_NS - 2 * 86_400_000_000_000
    message.resource_spans[1].scope_spans[0].spans[0].start_time_unix_nano = NOW_NS - 3 * 86_400_000_000_000
    event = message.resource_spans[1].scope_spans[0].spans[2].events.add(name="retry with token=abcdefgh1234")
    event.time_unix_nano = NOW_NS - 1_500_000
    return message


def test_rejected_spans_are_named_by_place_and_the_rest_kept_in_order_redacted() -> None:
    converted = convert_traces(request(), NOW_MS, Limits(), Redactor())
    assert converted.rejected.count == 2
    reasons = converted.rejected.message()
    assert "resourceSpans[0].scopeSpans[1].spans[1].traceId: trace id '" in reasons
    assert "resourceSpans[1].scopeSpans[0].spans[0].endTime: timestamp" in reasons
    assert [(s.service, s.operation) for s in converted.spans] == [
        ("gateway", "op 0.1.0"),
        ("quotes", "op 1.0.1"),
        ("quotes", "op 1.0.2"),
    ]
    assert all(s.tags == {"password": "[REDACTED]"} for s in converted.spans)
    assert converted.spans[2].events[0].message == "retry with token=[REDACTED]"
