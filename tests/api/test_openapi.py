"""The app's OpenAPI document: every route of the app declares its answer (a model), the errors it
really gives (their model) and, for ingest, its request body; and real answers of the running app
(real chDB and Kafka) validate against the declared models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_DELTA
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from alerting.rules import AlertTransition, State, transition_record
from api.keys import CreatedKey, KeyInfo, KeyList
from api.models import (
    Alive,
    BatchResult,
    Dependencies,
    HeatmapResult,
    LogsPage,
    MetricsCatalog,
    QueryPoint,
    QueryResult,
    Readiness,
    ServicesCatalog,
    TraceDetail,
    TracesPage,
)
from api.models_alerts import (
    ActiveAlerts,
    AlertAttempts,
    AlertHistory,
    DeadLetters,
    Queued,
    Redelivery,
    RuleAnswer,
    RuleDeleted,
    RulesList,
    RulesValidation,
    RuleWritten,
    SilenceList,
    SilenceOut,
)
from api.models_services import CanaryVerdict, ServiceHealth
from api.resources import Resources
from ingest.receivers.openapi import Accepted
from ingest.receivers.otlp.openapi import ExportLogsResponse, ExportMetricsResponse, ExportTraceResponse, RpcStatus
from perfpulse.app import create_app
from perfpulse.settings import Settings
from schemas import LogLevel, SpanKind, SpanStatus
from schemas.errors import ErrorBody
from schemas.notifier import AttemptRow
from storage.alerts import insert_attempts
from storage.rows import AlertHistoryColumns
from tests.api.apps import app_store, unreachable_kafka_app
from tests.api.test_alerts import alert
from tests.storage.builders import BASE_MS, insert_rows, window_row
from tests.storage.telemetry import MS, insert_logs, insert_spans, log, span, trace_id

SLICE = {"start": BASE_MS, "end": BASE_MS + 600_000}
BASE_NS = BASE_MS * MS
JSON, PROTOBUF = "application/json", "application/x-protobuf"
INGEST_ERRORS = (400, 413, 415, 503)
KEYED_INGEST_ERRORS = (*INGEST_ERRORS, 409, 422)  # Idempotency-Key: in progress, reused
RULE_EDIT_ERRORS = (400, 404, 409, 500)
REDELIVER = ("post", "/api/v1/alerts/deadletters/{dead_letter_id}/redeliver")

# (method, path) -> (success status, its model, error statuses, their model)
ROUTES: dict[tuple[str, str], tuple[int, type[BaseModel], tuple[int, ...], type[BaseModel]]] = {
    ("get", "/api/v1/query"): (200, QueryResult, (400,), ErrorBody),
    ("post", "/api/v1/query/batch"): (200, BatchResult, (400,), ErrorBody),
    ("get", "/api/v1/heatmap"): (200, HeatmapResult, (400,), ErrorBody),
    ("get", "/api/v1/services"): (200, ServicesCatalog, (400,), ErrorBody),
    ("get", "/api/v1/metrics"): (200, MetricsCatalog, (400,), ErrorBody),
    ("get", "/api/v1/traces/{trace_id}"): (200, TraceDetail, (400, 404), ErrorBody),
    ("get", "/api/v1/traces"): (200, TracesPage, (400,), ErrorBody),
    ("get", "/api/v1/dependencies"): (200, Dependencies, (400,), ErrorBody),
    ("get", "/api/v1/logs"): (200, LogsPage, (400,), ErrorBody),
    ("get", "/api/v1/services/{service}/health"): (200, ServiceHealth, (400,), ErrorBody),
    ("post", "/api/v1/canary"): (200, CanaryVerdict, (400,), ErrorBody),
    ("get", "/api/v1/resources"): (200, Resources, (), ErrorBody),
    ("get", "/healthz"): (200, Alive, (), ErrorBody),
    ("get", "/readyz"): (200, Readiness, (503,), Readiness),  # not ready: the same shape, naming the check
    ("post", "/api/v1/ingest/metrics"): (202, Accepted, KEYED_INGEST_ERRORS, ErrorBody),
    ("post", "/api/v1/ingest/spans"): (202, Accepted, KEYED_INGEST_ERRORS, ErrorBody),
    ("post", "/api/v1/ingest/logs"): (202, Accepted, KEYED_INGEST_ERRORS, ErrorBody),
    ("post", "/v1/traces"): (200, ExportTraceResponse, INGEST_ERRORS, RpcStatus),
    ("post", "/v1/metrics"): (200, ExportMetricsResponse, INGEST_ERRORS, RpcStatus),
    ("post", "/v1/logs"): (200, ExportLogsResponse, INGEST_ERRORS, RpcStatus),
    ("get", "/api/v1/alerts"): (200, ActiveAlerts, (400,), ErrorBody),
    ("get", "/api/v1/alerts/history"): (200, AlertHistory, (400,), ErrorBody),
    ("get", "/api/v1/alerts/deadletters"): (200, DeadLetters, (), ErrorBody),
    REDELIVER: (200, Redelivery, (404,), ErrorBody),
    ("get", "/api/v1/alerts/{fingerprint}/attempts"): (200, AlertAttempts, (400,), ErrorBody),
    ("get", "/api/v1/silences"): (200, SilenceList, (400,), ErrorBody),
    ("get", "/api/v1/silences/{silence_id}"): (200, SilenceOut, (404,), ErrorBody),
    ("post", "/api/v1/silences"): (201, SilenceOut, (400, 503), ErrorBody),
    ("delete", "/api/v1/silences/{silence_id}"): (200, SilenceOut, (404, 503), ErrorBody),
    ("get", "/api/v1/rules"): (200, RulesList, (), ErrorBody),
    ("get", "/api/v1/rules/{name}"): (200, RuleAnswer, (404,), ErrorBody),
    ("post", "/api/v1/rules"): (201, RuleWritten, (400, 409, 500), ErrorBody),
    ("put", "/api/v1/rules/{name}"): (200, RuleWritten, RULE_EDIT_ERRORS, ErrorBody),
    ("delete", "/api/v1/rules/{name}"): (200, RuleDeleted, RULE_EDIT_ERRORS, ErrorBody),
    ("post", "/api/v1/rules/validate"): (200, RulesValidation, (400, 500), ErrorBody),
    ("get", "/api/v1/keys"): (200, KeyList, (503,), ErrorBody),
    ("post", "/api/v1/keys"): (201, CreatedKey, (400, 503), ErrorBody),
    ("delete", "/api/v1/keys/{key_id}"): (200, KeyInfo, (404, 503), ErrorBody),
}
# A second success answer: the redelivery still retrying when the answer is due.
ALSO_SUCCEEDS: dict[tuple[str, str], tuple[int, type[BaseModel]]] = {REDELIVER: (202, Queued)}
# Answers 503 with Retry-After (Kafka unavailable): the ingest and OTLP routes.
RETRY_AFTER = {path for (_, path), (*_, errors, _) in ROUTES.items() if errors in (INGEST_ERRORS, KEYED_INGEST_ERRORS)}


@pytest.fixture(scope="module")
def app(module_settings: Settings) -> FastAPI:
    return create_app(module_settings)


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    schema: dict[str, Any] = app.openapi()
    return schema


def component(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    name = reference["$ref"].removeprefix("#/components/schemas/")
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def app_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, but the docs' pages and the dashboard's files (HTML)."""
    docs = {app.openapi_url, app.docs_url, app.swagger_ui_oauth2_redirect_url, app.redoc_url}
    found = set()
    for route in iter_route_contexts(app.routes):
        if route.path in docs or "dashboard" in getattr(route.original_route, "tags", []):
            continue
        if isinstance(route.original_route, APIWebSocketRoute):  # WS /api/v1/live: no HTTP answer to declare
            continue
        assert route.path is not None and route.methods, route
        found |= {(method.lower(), route.path) for method in route.methods - {"HEAD"}}
    return found


def test_every_route_is_checked_here_and_answers_a_schema(app: FastAPI, document: dict[str, Any]) -> None:
    found = app_operations(app)
    assert len(found) >= len(ROUTES) and found == set(ROUTES) | {("get", "/metrics"), ("get", LIVE_SSE)}
    for method, path in found:
        responses = document["paths"][path][method]["responses"]
        successes = [answer for status, answer in responses.items() if status.startswith("2")]
        assert successes, (method, path)
        for answer in successes:
            assert answer["content"] and all(content["schema"] for content in answer["content"].values()), path


@pytest.mark.parametrize(("method", "path"), list(ROUTES))
def test_success_and_errors_are_declared_with_their_models(document: dict[str, Any], method: str, path: str) -> None:
    success, model, errors, error_model = ROUTES[(method, path)]
    responses = document["paths"][path][method]["responses"]
    also = [ALSO_SUCCEEDS[(method, path)]] if (method, path) in ALSO_SUCCEEDS else []
    assert [int(status) for status in responses if status.startswith("2")] == [success, *(s for s, _ in also)]
    assert set(errors) <= {int(status) for status in responses}
    for status, declared_model in [(success, model), *also]:
        schema = responses[str(status)]["content"][JSON]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{declared_model.__name__}"}
        assert component(document, schema)["properties"]
    for status, declared in responses.items():
        if status.startswith("2"):
            continue
        assert int(status) in errors or status in ("401", "403", "429"), (method, path, status)
        # The route's own errors; any other (API keys, rate limits) is answered in the API's error shape.
        expected = error_model if int(status) in errors else ErrorBody
        assert declared["content"][JSON]["schema"] == {"$ref": f"#/components/schemas/{expected.__name__}"}
        assert declared["description"]
        if status == "503" and path in RETRY_AFTER:
            assert "Retry-After" in declared["headers"]


def test_prometheus_metrics_is_declared_as_text(document: dict[str, Any]) -> None:
    responses = document["paths"]["/metrics"]["get"]["responses"]
    assert responses["200"]["content"] == {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}


LIVE_SSE = "/api/v1/live/sse"


def test_the_live_feed_sse_is_declared_as_an_event_stream(document: dict[str, Any]) -> None:
    responses = document["paths"][LIVE_SSE]["get"]["responses"]
    assert responses["200"]["content"] == {"text/event-stream": {"schema": {"type": "string"}}}
    for status in ("400", "503"):
        assert responses[status]["content"][JSON]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_the_error_model_is_the_one_error_shape(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"error", "details"} and set(error["required"]) == {"error", "details"}
    detail = component(document, error["properties"]["details"]["items"])
    assert set(detail["properties"]) == {"loc", "msg"}


def test_no_route_documents_fastapis_422_and_every_reference_resolves(document: dict[str, Any]) -> None:
    # Validation errors are answered 400 in the one error shape, never 422 (api.errors); the only
    # 422 is the ingest endpoints' own, for an Idempotency-Key reused with another body.
    for operations in document["paths"].values():
        for operation in operations.values():
            declared = operation.get("responses", {}).get("422")
            assert declared is None or "Idempotency-Key" in declared["description"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for reference in references(document):
        assert reference.startswith("#/components/schemas/"), reference
        assert reference.removeprefix("#/components/schemas/") in document["components"]["schemas"], reference


@pytest.mark.parametrize(
    ("path", "items", "item_fields"),
    [
        ("/api/v1/ingest/metrics", "points", {"name", "value", "ts", "kind", "labels"}),
        ("/api/v1/ingest/spans", "spans", {"traceId", "spanId", "operationName", "startTime", "endTime", "tags"}),
        ("/api/v1/ingest/logs", "logs", {"ts", "level", "message", "attributes", "trace_id", "span_id"}),
    ],
)
def test_ingest_routes_declare_their_envelope(
    document: dict[str, Any], path: str, items: str, item_fields: set[str]
) -> None:
    body = document["paths"][path]["post"]["requestBody"]
    assert body["required"] is True and set(body["content"]) == {JSON}
    schema = body["content"][JSON]["schema"]
    assert set(schema["required"]) == {"service", items}
    assert item_fields <= set(schema["properties"][items]["items"]["properties"])
    assert not list(untyped(schema)), "every field says what it takes (times: a number or a string)"


def untyped(node: Any, where: str = "") -> Iterator[str]:
    """Where a schema accepts anything (``{}`` as a property or an alternative)."""
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            if isinstance(value, dict) and not set(value) - {"title", "description", "default"}:
                yield f"{where}.{key}"
            yield from untyped(value, f"{where}.{key}")
        for option in node.get("anyOf", []):
            if option == {}:
                yield where
            yield from untyped(option, where)
        yield from untyped(node.get("items"), f"{where}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from untyped(node["additionalProperties"], f"{where}{{}}")


def conforms(value: Any, schema: dict[str, Any], where: str = "") -> None:
    """``value`` fits ``schema``: its keys are properties of the schema, its types the declared ones."""
    if "anyOf" in schema:
        assert any(_fits(value, option) for option in schema["anyOf"]), (where, value, schema)
        return
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), (where, value)
        for key, item in value.items():
            if "properties" in schema:
                assert key in schema["properties"], (where, key)
                conforms(item, schema["properties"][key], f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), (where, value)
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")
    elif kind is not None:
        assert _fits(value, schema), (where, value, schema)


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    kinds = {"integer": int, "number": int | float, "string": str, "boolean": bool, "object": dict, "array": list}
    return isinstance(value, kinds[schema["type"]]) and (schema["type"] == "boolean" or not isinstance(value, bool))


def full_metrics_request() -> dict[str, Any]:
    """An OTLP JSON metrics request using every kind of data point, exemplars and nested attributes."""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.add(key="service.name").value.string_value = "frontend"
    metrics = resource_metrics.scope_metrics.add().metrics
    gauge = metrics.add(name="temperature").gauge.data_points.add(as_double=21.5, time_unix_nano=time.time_ns())
    gauge.exemplars.add(as_double=21.5, trace_id=bytes(range(16)), span_id=bytes(range(8)))
    listed = gauge.attributes.add(key="zones").value.array_value.values
    listed.add().string_value = "a"
    listed.add().kvlist_value.values.add(key="b").value.int_value = 2
    total = metrics.add(name="requests").sum
    total.aggregation_temporality, total.is_monotonic = AGGREGATION_TEMPORALITY_DELTA, True
    total.data_points.add(as_int=12)
    histogram = metrics.add(name="latency").histogram
    histogram.data_points.add(count=3, sum=6.0, bucket_counts=[1, 2], explicit_bounds=[2.0], min=1.0, max=3.0)
    exponential = metrics.add(name="size").exponential_histogram.data_points.add(scale=2, zero_count=1, count=3)
    exponential.positive.bucket_counts.extend([1, 1])
    metrics.add(name="rpc").summary.data_points.add(count=1, sum=2.0).quantile_values.add(quantile=0.5, value=2.0)
    document: dict[str, Any] = json_format.MessageToDict(request, use_integers_for_enums=True)
    return document


def test_otlp_routes_declare_both_encodings_and_a_json_schema_real_requests_fit(document: dict[str, Any]) -> None:
    for path in ("/v1/traces", "/v1/metrics", "/v1/logs"):
        body = document["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        assert body["content"][PROTOBUF] == {"schema": {"type": "string", "format": "binary"}}
        assert body["content"][JSON]["schema"]["properties"]
    metrics_schema = document["paths"]["/v1/metrics"]["post"]["requestBody"]["content"][JSON]["schema"]
    conforms(full_metrics_request(), metrics_schema)
    traces_schema = document["paths"]["/v1/traces"]["post"]["requestBody"]["content"][JSON]["schema"]
    conforms(traces_request("5b8efff798038103d269b633813fc60c"), traces_schema)
    with pytest.raises(AssertionError):
        conforms({"resourceSpans": [{"scopeSpanz": []}]}, traces_schema)


# --------------------------------------------------------------------------- real answers


def matches(model: type[BaseModel], response: Any, status: int = 200) -> None:
    """The answer validates against ``model`` (strictly: every field declared, types as declared)
    and the model holds all of it."""
    assert response.status_code == status, response.text
    parsed = model.model_validate_json(response.content, strict=True)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == response.json()


@pytest.fixture(scope="module")
def seeded(client: TestClient) -> TestClient:
    """Rollups, spans (a trace across two services, an error, a span log) and logs in ``SLICE``."""
    store = app_store(client)
    insert_rows(
        store,
        [
            window_row([10.0, 20.0, 30.0], window_start_ms=BASE_MS, labels={"status_code": "200"}),
            window_row([40.0], window_start_ms=BASE_MS + 1_000, labels={"status_code": "503"}),
        ],
    )
    root = span(1, 1, None, 0, 100, service="frontend", operation="GET /", kind=SpanKind.SERVER, base_ns=BASE_NS)
    call = span(1, 2, 1, 10, 60, service="frontend", operation="POST gateway", kind=SpanKind.CLIENT, base_ns=BASE_NS)
    served = span(1, 3, 2, 15, 50, service="gateway", kind=SpanKind.SERVER, status=SpanStatus.ERROR, base_ns=BASE_NS)
    insert_spans(store, [root, call, served])
    insert_logs(store, [log(5, "slow", level=LogLevel.WARN, attributes={"route": "/"}, trace=1, base_ns=BASE_NS)])
    return client


@pytest.mark.parametrize(
    ("path", "params", "model"),
    [
        ("/api/v1/query", {"metric": "http.server.duration", "step": "10s", "group_by": "service,status_code"}, None),
        ("/api/v1/heatmap", {"metric": "http.server.duration", "step": "1s"}, HeatmapResult),
        ("/api/v1/services", {}, ServicesCatalog),
        ("/api/v1/metrics", {}, MetricsCatalog),
        (f"/api/v1/traces/{trace_id(1)}", {}, TraceDetail),
        ("/api/v1/traces", {"limit": 1}, TracesPage),
        ("/api/v1/dependencies", {}, Dependencies),
        ("/api/v1/logs", {}, LogsPage),
    ],
)
def test_real_answers_validate_against_their_models(
    seeded: TestClient, path: str, params: dict[str, Any], model: type[BaseModel] | None
) -> None:
    if model is None:  # the query, asked for every statistic there is
        params = {**params, "stats": ",".join(name for name in QueryPoint.model_fields if name != "t")}
        model = QueryResult
    response = seeded.get(path, params={**SLICE, **params})
    matches(model, response)
    assert any(isinstance(value, list) and value for value in response.json().values()), response.text


def test_real_errors_validate_against_the_error_model(seeded: TestClient) -> None:
    matches(ErrorBody, seeded.get("/api/v1/query", params={"metric": "x", "step": "nope"}), 400)
    matches(ErrorBody, seeded.get(f"/api/v1/traces/{trace_id(404)}"), 404)
    matches(ErrorBody, seeded.get("/api/v1/logs", params={"limit": 0}), 400)
    matches(ErrorBody, seeded.post("/api/v1/ingest/logs", content=b"{"), 400)
    matches(ErrorBody, seeded.post("/api/v1/ingest/spans", content=b"{}", headers={"Content-Encoding": "br"}), 415)
    matches(RpcStatus, seeded.post("/v1/logs", content=b"\x01", headers={"Content-Type": PROTOBUF + "x"}), 415)
    matches(RpcStatus, seeded.post("/v1/logs", content=b"[", headers={"Content-Type": JSON}), 400)


def traces_request(trace: str) -> dict[str, Any]:
    now_ns = time.time_ns()
    good = {
        "traceId": trace,
        "spanId": "eee19b7ec3c1b174",
        "name": "GET /quote",
        "kind": 2,
        "startTimeUnixNano": str(now_ns - 5_000_000),
        "endTimeUnixNano": str(now_ns),
        "attributes": [{"key": "retry", "value": {"boolValue": True}}],
        "status": {"code": 2, "message": "upstream failed"},
    }
    backwards = {**good, "spanId": "eee19b7ec3c1b175", "endTimeUnixNano": "1"}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [good, backwards]}]}]}


def test_real_ingest_answers_validate(seeded: TestClient) -> None:
    point = {"name": "http.server.duration", "value": 12.5}
    matches(Accepted, seeded.post("/api/v1/ingest/metrics", json={"service": "frontend", "points": [point]}), 202)
    logs = {"service": "frontend", "logs": [{"level": "info", "message": "hello"}]}
    matches(Accepted, seeded.post("/api/v1/ingest/logs", json=logs), 202)
    request = orjson.dumps(traces_request("5b8efff798038103d269b633813fc60c"))
    response = seeded.post("/v1/traces", content=request, headers={"Content-Type": JSON})
    matches(ExportTraceResponse, response)
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    matches(ExportLogsResponse, seeded.post("/v1/logs", content=b"{}", headers={"Content-Type": JSON}))
    matches(Alive, seeded.get("/healthz"))
    matches(Readiness, seeded.get("/readyz"))


def test_answers_without_kafka_validate(module_settings: Settings, seeded: TestClient) -> None:
    with unreachable_kafka_app(module_settings) as down:
        matches(Readiness, down.get("/readyz"), 503)
        refused = down.post(
            "/api/v1/ingest/metrics", json={"service": "frontend", "points": [{"name": "a", "value": 1}]}
        )
        matches(ErrorBody, refused, 503)
        assert refused.headers["Retry-After"]


def test_real_silence_answers_validate(seeded: TestClient) -> None:
    created = seeded.post(
        "/api/v1/silences",
        json={"matchers": 'service="gateway"', "duration": "1h", "comment": "deploy", "created_by": "ops"},
    )
    matches(SilenceOut, created, 201)
    silence = created.json()["id"]
    listed = seeded.get("/api/v1/silences")
    matches(SilenceList, listed)
    assert silence in [s["id"] for s in listed.json()["silences"]]
    matches(SilenceOut, seeded.get(f"/api/v1/silences/{silence}"))
    matches(SilenceOut, seeded.delete(f"/api/v1/silences/{silence}"))
    matches(ErrorBody, seeded.get("/api/v1/silences/nope"), 404)
    matches(ErrorBody, seeded.get("/api/v1/silences", params={"state": "over"}), 400)


def test_real_rule_answers_validate(seeded: TestClient) -> None:
    listed = seeded.get("/api/v1/rules")
    matches(RulesList, listed)
    rules, channels = listed.json()["rules"], listed.json()["channels"]
    assert rules and channels
    matches(RuleAnswer, seeded.get(f"/api/v1/rules/{rules[0]['name']}"))
    valid = seeded.post("/api/v1/rules/validate", json={"rule": {"name": "slow", "condition": "latency.p95 > 200"}})
    matches(RulesValidation, valid)
    assert valid.json()["valid"] is True
    broken = seeded.post("/api/v1/rules/validate", json={"text": "alerts:\n  - name: x\n"})
    matches(RulesValidation, broken)
    assert broken.json()["errors"]
    matches(ErrorBody, seeded.get("/api/v1/rules/nope"), 404)
    matches(ErrorBody, seeded.post("/api/v1/rules/validate", json={}), 400)


def test_real_alert_answers_validate(seeded: TestClient) -> None:
    at = BASE_MS + 60_000
    firing = alert("high_error_rate", "frontend", State.FIRING, at)
    columns = AlertHistoryColumns()
    columns.add(1, transition_record(AlertTransition(firing, State.PENDING, at), 1, 0, 0))
    app_store(seeded).insert(*columns.take())
    attempt = AttemptRow(firing.fingerprint, firing.rule, "ops", "n1", "ops:{}", "http://127.0.0.1:9/", 1, at, 30,
                         "failed", 400, "HTTP 400", None, True)  # fmt: skip
    insert_attempts(app_store(seeded), [attempt])
    history = seeded.get("/api/v1/alerts/history", params={"fingerprint": firing.fingerprint})
    matches(AlertHistory, history)
    assert history.json()["history"]
    attempts = seeded.get(f"/api/v1/alerts/{firing.fingerprint}/attempts")
    matches(AlertAttempts, attempts)
    assert attempts.json()["attempts"]
    matches(ActiveAlerts, seeded.get("/api/v1/alerts"))
    matches(DeadLetters, seeded.get("/api/v1/alerts/deadletters"))
    matches(ErrorBody, seeded.get("/api/v1/alerts", params={"state": "asleep"}), 400)
    matches(ErrorBody, seeded.get("/api/v1/alerts/history", params={"limit": 0}), 400)
    matches(ErrorBody, seeded.get("/api/v1/alerts/not-hex/attempts"), 400)
    matches(ErrorBody, seeded.post("/api/v1/alerts/deadletters/nope/redeliver"), 404)


def test_real_batch_answers_validate(seeded: TestClient) -> None:
    """A batch holding a result and an error; and a body refused whole."""
    queries = [{"metric": "http.server.duration", **SLICE}, {"metric": "x", "step": "nope"}]
    response = seeded.post("/api/v1/query/batch", json={"queries": queries})
    matches(BatchResult, response)
    assert [item["status"] for item in response.json()["results"]] == [200, 400]
    matches(ErrorBody, seeded.post("/api/v1/query/batch", json={"queries": []}), 400)
