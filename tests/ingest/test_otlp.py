"""The OTLP/HTTP receiver, driven by the real OpenTelemetry SDK and its OTLP/HTTP exporters against a
real server, and by raw OTLP JSON and protobuf: what lands in Kafka (ids, parent links, durations,
services, statuses, redacted secrets, metric values), partial success, malformed requests, gzip, and
Kafka being down."""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind as OtelKind
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ingest.producer import RecordProducer
from ingest.receivers.http import IngestContext
from ingest.receivers.otlp import create_otlp_app
from ingest.receivers.otlp.common import Encoding, decode_request
from perfpulse.settings import Settings
from schemas import Limits, LogLevel, Redactor, SpanKind, SpanStatus, Topics
from schemas.redact import REDACTED
from tests.api.apps import running_app
from tests.ingest.helpers import read_batches, read_logs, read_records, read_spans, serving

pytestmark = pytest.mark.integration

PROTOBUF, JSON = "application/x-protobuf", "application/json"
UNREACHABLE = "127.0.0.1:1"


@pytest.fixture
def receiver(kafka_bootstrap: str, topics: Topics) -> Iterator[str]:
    """The OTLP app alone (as on port 4318) on a free port, writing to this test's topics."""
    context = IngestContext(RecordProducer(kafka_bootstrap, topics, client_id="otlp-test"), Limits(), Redactor())
    with serving(create_otlp_app(context, stop_producer=True)) as url:
        yield url


def resource(service: str) -> Resource:
    return Resource.create({"service.name": service, "service.instance.id": f"{service}-1"})


def tracer_provider(url: str, service: str) -> TracerProvider:
    provider = TracerProvider(resource=resource(service))
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=Compression.Gzip, timeout=30)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def meter_provider(url: str, service: str, **options: Any) -> MeterProvider:
    views = options.pop("views", ())
    exporter = OTLPMetricExporter(endpoint=f"{url}/v1/metrics", timeout=30, **options)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    return MeterProvider(metric_readers=[reader], resource=resource(service), views=views)


def series_values(bootstrap: str, topic: str) -> dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[float]]:
    """Every value in the metrics topic, per (service, name, kind, labels), in order."""
    out: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)
    for _, batch in asyncio.run(read_batches(bootstrap, topic)):
        for s in batch.series:
            out[(batch.service, s.name, s.kind.value, tuple(sorted(s.labels.items())))] += s.values.tolist()
    return dict(out)


def post(url: str, path: str, body: bytes, content_type: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}{path}", content=body, headers={"Content-Type": content_type, **headers}, timeout=30)


def nothing_written(bootstrap: str, topics: Topics) -> bool:
    return not any(asyncio.run(read_records(bootstrap, t)) for t in (topics.spans, topics.logs, topics.metrics))


# --------------------------------------------------------------------------- the OpenTelemetry SDK


def test_a_multi_service_trace_from_the_opentelemetry_sdk(receiver: str, kafka_bootstrap: str, topics: Topics) -> None:
    gateway, orchestrator = tracer_provider(receiver, "gateway"), tracer_provider(receiver, "orchestrator")
    propagator = TraceContextTextMapPropagator()
    ended: dict[str, ReadableSpan] = {}
    try:
        g_tracer, o_tracer = gateway.get_tracer("gw"), orchestrator.get_tracer("orch")
        with g_tracer.start_as_current_span(
            "GET /checkout",
            kind=OtelKind.SERVER,
            attributes={"http.request.header.authorization": "Bearer s3cr3t-t0k3n-value", "http.route": "/checkout"},
        ) as root:
            with g_tracer.start_as_current_span("call orchestrator", kind=OtelKind.CLIENT) as client:
                headers: dict[str, str] = {}
                propagator.inject(headers)
                # The orchestrator, "in another process", continues the trace from the headers.
                remote = propagator.extract(headers)
                with o_tracer.start_as_current_span("POST /orders", context=remote, kind=OtelKind.SERVER) as server:
                    server.add_event("cache miss", {"key": "cart:42", "level": "warn"})
                    with o_tracer.start_as_current_span(
                        "db.insert", kind=OtelKind.CLIENT, attributes={"db.statement": "INSERT .. password=hunter2"}
                    ) as db:
                        db.set_attribute("db.rows", 3)
                    with o_tracer.start_as_current_span("reserve stock") as failing:
                        failing.record_exception(ValueError("insufficient stock"))
                        failing.set_status(Status(StatusCode.ERROR, "insufficient stock"))
            root.set_status(Status(StatusCode.OK))
        for span in (root, client, server, db, failing):
            assert isinstance(span, ReadableSpan)
            ended[span.name] = span
        assert gateway.force_flush(30_000) and orchestrator.force_flush(30_000)
    finally:
        gateway.shutdown()
        orchestrator.shutdown()
    records = read_spans(kafka_bootstrap, topics.spans)
    spans = {s.operation: s for _, batch in records for s in batch}
    assert set(spans) == set(ended)
    trace_id = f"{root.get_span_context().trace_id:032x}"
    assert {s.trace_id for s in spans.values()} == {trace_id}
    for name, otel in ended.items():
        ours = spans[name]
        assert ours.span_id == f"{otel.get_span_context().span_id:016x}"
        expected_parent = f"{otel.parent.span_id:016x}" if otel.parent is not None else None
        assert ours.parent_span_id == expected_parent
        assert (ours.start_ns, ours.end_ns) == (otel.start_time, otel.end_time)  # durations to the nanosecond
    assert spans["POST /orders"].parent_span_id == spans["call orchestrator"].span_id  # across services
    assert {n: s.service for n, s in spans.items()} == {
        "GET /checkout": "gateway",
        "call orchestrator": "gateway",
        "POST /orders": "orchestrator",
        "db.insert": "orchestrator",
        "reserve stock": "orchestrator",
    }
    assert [spans[n].kind for n in ("GET /checkout", "call orchestrator", "reserve stock")] == [
        SpanKind.SERVER,
        SpanKind.CLIENT,
        SpanKind.INTERNAL,
    ]
    assert spans["GET /checkout"].status is SpanStatus.OK and spans["db.insert"].status is SpanStatus.UNSET
    failed = spans["reserve stock"]
    assert failed.status is SpanStatus.ERROR and failed.status_message == "insufficient stock"
    [exception] = failed.events
    assert exception.message == "ValueError: insufficient stock" and exception.level == "error"
    assert exception.attributes["exception.type"] == "ValueError"
    [miss] = spans["POST /orders"].events
    assert (miss.message, miss.level, miss.attributes["key"]) == ("cache miss", "warn", "cart:42")
    assert spans["GET /checkout"].tags["http.request.header.authorization"] == REDACTED
    assert spans["GET /checkout"].tags["http.route"] == "/checkout"
    assert spans["GET /checkout"].tags["service.instance.id"] == "gateway-1"
    assert spans["db.insert"].tags["db.statement"] == f"INSERT .. password={REDACTED}"
    assert spans["db.insert"].tags["db.rows"] == "3"


def test_metrics_from_the_opentelemetry_sdk(receiver: str, kafka_bootstrap: str, topics: Topics) -> None:
    cumulative = meter_provider(
        receiver,
        "gateway",
        views=[View(instrument_name="payload.size", aggregation=ExponentialBucketHistogramAggregation())],
    )
    delta = meter_provider(
        receiver,
        "worker",
        preferred_temporality={Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA},
    )
    try:
        meter = cumulative.get_meter("test")
        orders = meter.create_counter("orders.created")
        latency = meter.create_histogram("http.server.duration", unit="ms")
        depth = meter.create_up_down_counter("queue.depth")
        cpu = meter.create_gauge("cpu.utilisation")
        size = meter.create_histogram("payload.size")
        jobs = delta.get_meter("test").create_counter("jobs.done")
        job_time = delta.get_meter("test").create_histogram("job.duration")

        orders.add(5, {"region": "eu"})
        for value in (10, 20, 30, 500):
            latency.record(value, {"route": "/checkout"})
        depth.add(7)
        depth.add(-2)
        cpu.set(0.5, {"core": "0"})
        for value in (1, 10, 100, 1000):
            size.record(value)
        jobs.add(4)
        job_time.record(12)
        assert cumulative.force_flush(30_000) and delta.force_flush(30_000)

        orders.add(3, {"region": "eu"})  # cumulative total 8: the receiver forwards the increase, 3
        latency.record(60, {"route": "/checkout"})
        jobs.add(1)
        assert cumulative.force_flush(30_000) and delta.force_flush(30_000)
    finally:
        cumulative.shutdown()
        delta.shutdown()
    # (shutting down exports once more: the cumulative counter's increase since is 0, gauges repeat)
    found = series_values(kafka_bootstrap, topics.metrics)
    assert found[("gateway", "orders.created", "counter", (("region", "eu"),))] == [5.0, 3.0, 0.0]
    # Histogram buckets (5,10], (10,25], (25,50], (250,500] at their midpoints (min 10 clamps the
    # first), then only the new observation's bucket (50,75].
    assert found[("gateway", "http.server.duration", "distribution", (("route", "/checkout"),))] == [
        10.0,
        17.5,
        37.5,
        375.0,
        62.5,
    ]
    assert set(found[("gateway", "queue.depth", "gauge", ())]) == {5.0}  # an up-down counter is a level
    assert set(found[("gateway", "cpu.utilisation", "gauge", (("core", "0"),))]) == {0.5}
    sizes = sorted(found[("gateway", "payload.size", "distribution", ())])
    assert len(sizes) == 4
    assert all(abs(got / want - 1) < 0.05 for got, want in zip(sizes, (1, 10, 100, 1000), strict=True))
    assert found[("worker", "jobs.done", "counter", ())] == [4.0, 1.0]
    assert found[("worker", "job.duration", "distribution", ())] == [12.0]  # clamped to min = max = 12


def test_logs_from_the_opentelemetry_sdk_are_correlated_and_redacted(
    receiver: str, kafka_bootstrap: str, topics: Topics
) -> None:
    logs = LoggerProvider(resource=resource("payments"))
    logs.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{receiver}/v1/logs", timeout=30)))
    traces = TracerProvider(resource=resource("payments"))
    logger = logging.getLogger(f"otel.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=logs)
    logger.addHandler(handler)
    try:
        with traces.get_tracer("t").start_as_current_span("charge") as span:
            logger.error("payment failed for card 4111 1111 1111 1111", extra={"order_id": 7, "api_key": "abc"})
        logger.debug("outside any span")
        assert logs.force_flush(30_000)
    finally:
        logger.removeHandler(handler)
        logs.shutdown()
        traces.shutdown()
    [(key, records)] = read_logs(kafka_bootstrap, topics.logs)
    assert key == b"payments"
    failed, outside = records
    assert failed.service == "payments" and failed.level is LogLevel.ERROR
    assert failed.message == "payment failed for card [CARD ****1111]"
    assert failed.trace_id == f"{span.get_span_context().trace_id:032x}"
    assert failed.span_id == f"{span.get_span_context().span_id:016x}"
    assert failed.attributes["order_id"] == "7" and failed.attributes["api_key"] == REDACTED
    assert outside.level is LogLevel.DEBUG and outside.trace_id is None and outside.span_id is None


# --------------------------------------------------------------------------- raw OTLP JSON


def otlp_json_span(trace_id: str, span_id: str, name: str, **overrides: Any) -> dict[str, Any]:
    now_ns = time.time_ns()
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": str(now_ns - 5_000_000),
        "endTimeUnixNano": str(now_ns),
        "attributes": [
            {"key": "http.status_code", "value": {"intValue": "503"}},
            {"key": "retry", "value": {"boolValue": True}},
            {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"doubleValue": 1.5}]}}},
            {"key": "password", "value": {"stringValue": "hunter2"}},
        ],
        "status": {"code": 2, "message": "upstream failed"},
        **overrides,
    }


def traces_json(*spans: dict[str, Any], service: str = "frontend") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "raw"}, "spans": list(spans)}],
            }
        ]
    }


TRACE = "5b8efff798038103d269b633813fc60c"


def test_raw_otlp_json_gzipped(receiver: str, kafka_bootstrap: str, topics: Topics) -> None:
    body = traces_json(
        otlp_json_span(TRACE, "eee19b7ec3c1b174", "GET /quote", unknownField={"ignored": True}),
        otlp_json_span(TRACE, "eee19b7ec3c1b175", "render", parentSpanId="eee19b7ec3c1b174", kind="SPAN_KIND_INTERNAL"),
    )
    response = post(receiver, "/v1/traces", gzip.compress(orjson.dumps(body)), JSON, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    assert response.json() == {}  # fully accepted: no partial_success
    spans = {s.operation: s for _, batch in read_spans(kafka_bootstrap, topics.spans) for s in batch}
    quote, render = spans["GET /quote"], spans["render"]
    assert (quote.trace_id, quote.span_id, quote.parent_span_id) == (TRACE, "eee19b7ec3c1b174", None)
    assert render.parent_span_id == "eee19b7ec3c1b174" and render.kind is SpanKind.INTERNAL
    assert quote.kind is SpanKind.SERVER and quote.status is SpanStatus.ERROR and quote.duration_ms == 5.0
    assert quote.tags == {"http.status_code": "503", "retry": "true", "tags": '["a",1.5]', "password": REDACTED}
    assert quote.service == "frontend"


def test_raw_otlp_json_logs_and_metrics(receiver: str, kafka_bootstrap: str, topics: Topics) -> None:
    now_ns = time.time_ns()
    logs = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]},
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": str(now_ns),
                                "severityNumber": 13,
                                "severityText": "WARN",
                                "body": {"stringValue": "slow quote token=abcdef"},
                                "traceId": TRACE,
                                "spanId": "eee19b7ec3c1b174",
                                "attributes": [{"key": "route", "value": {"stringValue": "/quote"}}],
                            },
                            {
                                "observedTimeUnixNano": str(now_ns),
                                "severityText": "fatal",
                                "body": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": 1}}]}},
                            },
                        ]
                    }
                ],
            }
        ]
    }
    response = post(receiver, "/v1/logs", orjson.dumps(logs), JSON)
    assert response.status_code == 200 and response.json() == {}
    [(_, [slow, structured])] = read_logs(kafka_bootstrap, topics.logs)
    assert slow.level is LogLevel.WARN and slow.message == f"slow quote token={REDACTED}"
    assert (slow.trace_id, slow.span_id, slow.attributes) == (TRACE, "eee19b7ec3c1b174", {"route": "/quote"})
    assert structured.level is LogLevel.FATAL and structured.message == '{"a":1}' and structured.ts_ns == now_ns

    gauge = {"name": "temperature", "gauge": {"dataPoints": [{"timeUnixNano": str(now_ns), "asDouble": 21.5}]}}
    counter = {
        "name": "requests",
        "sum": {
            "aggregationTemporality": 1,
            "isMonotonic": True,
            "dataPoints": [
                {
                    "timeUnixNano": str(now_ns),
                    "asInt": "12",
                    "attributes": [{"key": "code", "value": {"intValue": "200"}}],
                }
            ],
        },
    }
    metrics = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]},
                "scopeMetrics": [{"metrics": [gauge, counter]}],
            }
        ]
    }
    response = post(receiver, "/v1/metrics", orjson.dumps(metrics), JSON)
    assert response.status_code == 200 and response.json() == {}
    found = series_values(kafka_bootstrap, topics.metrics)
    assert found == {
        ("frontend", "temperature", "gauge", ()): [21.5],
        ("frontend", "requests", "counter", (("code", "200"),)): [12.0],
    }


# --------------------------------------------------------------------------- partial success, errors


def test_invalid_items_are_rejected_alone_as_partial_success(
    receiver: str, kafka_bootstrap: str, topics: Topics
) -> None:
    body = traces_json(
        otlp_json_span(TRACE, "eee19b7ec3c1b174", "good"),
        otlp_json_span("5b8efff798038103", "eee19b7ec3c1b175", "short trace id"),
        otlp_json_span(TRACE, "eee19b7ec3c1b176", "ends before it starts", endTimeUnixNano="1"),
    )
    response = post(receiver, "/v1/traces", orjson.dumps(body), JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "spans[1].traceId" in partial["errorMessage"] and "spans[2].endTime" in partial["errorMessage"]
    assert [s.operation for _, batch in read_spans(kafka_bootstrap, topics.spans) for s in batch] == ["good"]

    # The same in protobuf, for metrics: a NaN gauge and an unknown temporality are rejected alone.
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    good = metrics.add(name="ok.gauge")
    good.gauge.data_points.add(as_double=1.0)
    bad = metrics.add(name="bad.gauge")
    bad.gauge.data_points.add(as_double=float("nan"))
    unspecified = metrics.add(name="bad.sum")
    unspecified.sum.is_monotonic = True
    unspecified.sum.data_points.add(as_int=3)
    response = post(receiver, "/v1/metrics", request.SerializeToString(), PROTOBUF)
    assert response.status_code == 200 and response.headers["content-type"] == PROTOBUF
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 2
    assert "finite" in answer.partial_success.error_message and "temporality" in answer.partial_success.error_message
    assert set(series_values(kafka_bootstrap, topics.metrics)) == {("unknown_service", "ok.gauge", "gauge", ())}


def test_a_fully_accepted_protobuf_request_has_no_partial_success(receiver: str) -> None:
    request = ExportTraceServiceRequest()
    json_format.ParseDict(
        {"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}, request
    )  # no spans at all is a valid request
    response = post(receiver, "/v1/traces", request.SerializeToString(), PROTOBUF)
    assert response.status_code == 200
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    response = post(receiver, "/v1/logs", b"", PROTOBUF)
    assert (
        response.status_code == 200
        and ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()
    )


@pytest.mark.parametrize(
    ("path", "body", "content_type", "fragment"),
    [
        ("/v1/traces", b"\xff\xff\xff\xff not protobuf", PROTOBUF, "cannot decode protobuf"),
        ("/v1/metrics", b"\x0a\x05\x0a\x03", PROTOBUF, "cannot decode protobuf"),  # truncated message
        ("/v1/logs", b"{not json", JSON, "cannot decode JSON"),
        ("/v1/traces", b'{"resourceSpans": {"not": "a list"}}', JSON, "cannot decode JSON"),
        ("/v1/traces", b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', JSON, "not hex"),
        ("/v1/metrics", b"[1, 2]", JSON, "expected an object"),
    ],
)
def test_malformed_requests_are_a_400_and_write_nothing(
    receiver: str, kafka_bootstrap: str, topics: Topics, path: str, body: bytes, content_type: str, fragment: str
) -> None:
    response = post(receiver, path, body, content_type)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == content_type
    if content_type == JSON:
        status = response.json()
        assert status["code"] == 3 and fragment in status["message"]
    else:
        assert response.content.startswith(b"\x08\x03\x12") and fragment.encode() in response.content
    assert nothing_written(kafka_bootstrap, topics)


def test_unsupported_content_type_and_encoding(receiver: str) -> None:
    response = post(receiver, "/v1/traces", b"{}", "text/plain")
    assert response.status_code == 415 and "application/x-protobuf" in response.json()["message"]
    response = post(receiver, "/v1/traces", b"{}", JSON, **{"Content-Encoding": "br"})
    assert response.status_code == 415
    response = post(receiver, "/v1/traces", b"not gzip", JSON, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400 and "gzip" in response.json()["message"]


def test_kafka_down_is_a_503_with_retry_after(topics: Topics) -> None:
    context = IngestContext(RecordProducer(UNREACHABLE, topics, request_timeout_s=1), Limits(), Redactor())
    with serving(create_otlp_app(context, stop_producer=True)) as url:
        body = orjson.dumps(traces_json(otlp_json_span(TRACE, "eee19b7ec3c1b174", "x")))
        response = post(url, "/v1/traces", body, JSON)
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        assert response.json()["code"] == 14 and "Kafka is unavailable" in response.json()["message"]
        # Cumulative totals of a request that failed are not remembered: the retry counts them again.
        request = ExportMetricsServiceRequest()
        metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="requests")
        metric.sum.is_monotonic = True
        metric.sum.aggregation_temporality = AggregationTemporality.CUMULATIVE.value
        metric.sum.data_points.add(as_int=10, start_time_unix_nano=context.cumulative.started_ns + 1)
        response = post(url, "/v1/metrics", request.SerializeToString(), PROTOBUF)
        assert response.status_code == 503 and len(context.cumulative) == 0


def test_the_api_app_serves_the_otlp_receiver(settings: Settings) -> None:
    document = traces_json(otlp_json_span(TRACE, "eee19b7ec3c1b174", "via api"))
    request = decode_request(orjson.dumps(document), Encoding.JSON, ExportTraceServiceRequest())
    with running_app(settings, with_sink=False) as client:
        assert isinstance(client, TestClient)
        response = client.post("/v1/traces", content=request.SerializeToString(), headers={"Content-Type": PROTOBUF})
        assert response.status_code == 200, response.text
    [(_, [stored])] = read_spans(settings.kafka_bootstrap, settings.topics.spans)
    assert stored.operation == "via api" and stored.trace_id == TRACE and stored.tags["password"] == REDACTED
