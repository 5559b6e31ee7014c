"""Traces and logs end to end: a client nobody here wrote (the OpenTelemetry SDK, OTLP/HTTP
protobuf, to OTLP's own port), raw OTLP JSON, and our SDK across two services — then the trace by
id, search, RED, dependencies and logs through the API of a running deployment."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ingest import Emitter
from ingest.sdk.traceparent import continue_trace, inject
from schemas.redact import REDACTED
from tests.e2e.conftest import Deployment, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def otlp_url(deployment: Deployment) -> str:
    return f"http://{deployment.settings.api_host}:{deployment.settings.otlp_port}"


def tracer(url: str, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=30)))
    return provider


def stored_trace(deployment: Deployment, trace_id: str, spans: int) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def complete() -> bool:
        response = deployment.get(f"/api/v1/traces/{trace_id}")
        if response.status_code == 200:
            found.update(response.json())
        return found.get("span_count") == spans

    wait_for(complete, 60, f"trace {trace_id} with {spans} spans")
    return found


def test_opentelemetry_sdk_trace_and_logs_come_back_by_id_search_red_dependencies(deployment: Deployment) -> None:
    url = otlp_url(deployment)
    gateway, orchestrator = tracer(url, "gateway"), tracer(url, "orchestrator")
    logs = LoggerProvider(resource=Resource.create({"service.name": "orchestrator"}))
    logs.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs", timeout=30)))
    logger = logging.getLogger("e2e.orchestrator")
    handler = LoggingHandler(logger_provider=logs)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    propagator = TraceContextTextMapPropagator()
    try:
        g, o = gateway.get_tracer("gw"), orchestrator.get_tracer("orch")
        with g.start_as_current_span("GET /checkout", kind=SpanKind.SERVER,
                                     attributes={"authorization": "Bearer abcdefgh12345678"}) as root:  # fmt: skip
            time.sleep(0.01)
            with g.start_as_current_span("call orchestrator", kind=SpanKind.CLIENT):
                headers: dict[str, str] = {}
                propagator.inject(headers)
                with o.start_as_current_span("POST /orders", context=propagator.extract(headers), kind=SpanKind.SERVER):
                    logger.warning("reserving stock for order 42 with password=hunter2")
                    with o.start_as_current_span("reserve stock") as failing:
                        time.sleep(0.02)
                        failing.set_status(Status(StatusCode.ERROR, "insufficient stock"))
        assert gateway.force_flush(30_000) and orchestrator.force_flush(30_000) and logs.force_flush(30_000)
    finally:
        logger.removeHandler(handler)
        for provider in (gateway, orchestrator, logs):
            provider.shutdown()
    trace_id = f"{root.get_span_context().trace_id:032x}"

    trace = stored_trace(deployment, trace_id, spans=4)
    by_name = {s["operation"]: s for s in trace["spans"]}
    assert by_name["POST /orders"]["parent_span_id"] == by_name["call orchestrator"]["span_id"]
    assert (
        by_name["GET /checkout"]["parent_span_id"] is None
        and trace["root_span_id"] == by_name["GET /checkout"]["span_id"]
    )
    assert by_name["reserve stock"]["status"] == "error" and trace["error_count"] == 1
    assert by_name["reserve stock"]["duration_ms"] >= 20 and trace["duration_ms"] >= 30
    assert by_name["GET /checkout"]["tags"]["authorization"] == REDACTED
    assert {s["operation"] for s in trace["critical_path"]} >= {"GET /checkout", "reserve stock"}
    assert set(trace["services"]) == {"gateway", "orchestrator"}

    now = time.time_ns() // 1_000_000
    found = deployment.get("/api/v1/traces", service="orchestrator", error="true", start=now - 600_000).json()
    assert trace_id in [t["trace_id"] for t in found["traces"]]

    graph = deployment.get("/api/v1/dependencies", start=now - 600_000).json()
    edge = next(e for e in graph["edges"] if (e["caller"], e["callee"]) == ("gateway", "orchestrator"))
    assert edge["calls"] == 1

    services = {s["service"]: s for s in deployment.get("/api/v1/services", start=now - 600_000).json()["services"]}
    assert services["gateway"]["span_red"]["requests"] == 1
    assert services["orchestrator"]["span_red"]["requests"] == 1

    def correlated_log() -> list[dict[str, Any]]:
        return deployment.get("/api/v1/logs", trace_id=trace_id, start=now - 600_000).json()["logs"]

    wait_for(lambda: len(correlated_log()) == 1, 60, "the log record of the trace")
    [entry] = correlated_log()
    assert entry["service"] == "orchestrator" and entry["span_id"] == by_name["POST /orders"]["span_id"]
    assert "hunter2" not in entry["message"] and REDACTED in entry["message"]
    assert (
        deployment.get("/api/v1/logs", q="reserving stock", start=now - 600_000).json()["logs"][0]["trace_id"]
        == trace_id
    )


def test_raw_otlp_json_trace_is_stored(deployment: Deployment) -> None:
    trace_id, now_ns = "5b8efff798038103d269b633813fc60c", time.time_ns()
    body = {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]},
            "scopeSpans": [{"spans": [
                {"traceId": trace_id, "spanId": "eee19b7ec3c1b174", "name": "render", "kind": 2,
                 "startTimeUnixNano": str(now_ns - 5_000_000), "endTimeUnixNano": str(now_ns)},
                {"traceId": trace_id, "spanId": "eee19b7ec3c1b175", "parentSpanId": "eee19b7ec3c1b174", "name": "fetch",
                 "kind": 3, "startTimeUnixNano": str(now_ns - 4_000_000), "endTimeUnixNano": str(now_ns - 1_000_000)},
            ]}],
        }]
    }  # fmt: skip
    response = httpx.post(f"{deployment.url}/v1/traces", json=body, timeout=30)
    assert response.status_code == 200, response.text
    trace = stored_trace(deployment, trace_id, spans=2)
    fetch = next(s for s in trace["spans"] if s["operation"] == "fetch")
    assert fetch["duration_ms"] == pytest.approx(3.0) and fetch["kind"] == "client"


def test_our_sdk_carries_one_trace_across_two_services(deployment: Deployment) -> None:
    settings = deployment.settings
    front = Emitter("shop-front", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    back = Emitter("shop-back", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    try:
        with front.span("GET /basket", kind="server") as incoming:
            headers: dict[str, str] = {}
            inject(headers)  # the outgoing HTTP call carries traceparent ...
            with continue_trace(headers), back.span("load basket", kind="server"):  # ... the other service resumes it
                time.sleep(0.005)
        assert front.flush(30) and back.flush(30)
    finally:
        front.close()
        back.close()
    trace = stored_trace(deployment, incoming.context.trace_id, spans=2)
    spans = {s["service"]: s for s in trace["spans"]}
    assert spans["shop-back"]["parent_span_id"] == spans["shop-front"]["span_id"]
