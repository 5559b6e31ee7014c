"""``POST /api/v1/ingest/spans`` and ``/logs`` over the real app and Kafka: 202 only once Kafka holds
the records, redacted; 400 with field-level reasons, 413 for oversized bodies, 503 with Retry-After
when Kafka is unreachable; a rejected request writes nothing."""

from __future__ import annotations

import gzip
import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from perfpulse.settings import Settings
from schemas import LogLevel, SpanKind, SpanStatus
from schemas.redact import REDACTED
from tests.api.apps import running_app
from tests.ingest.helpers import read_logs, read_spans, rejected

pytestmark = pytest.mark.integration

SPANS, LOGS = "/api/v1/ingest/spans", "/api/v1/ingest/logs"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
MB = 1024 * 1024


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def span(n: int = 1, **overrides: Any) -> dict[str, Any]:
    start = now_ms() - 50
    return {
        "traceId": TRACE,
        "spanId": f"{n:016x}",
        "operationName": "GET /quote",
        "startTime": start,
        "endTime": start + 12.25,
        **overrides,
    }


def log(**overrides: Any) -> dict[str, Any]:
    return {"ts": now_ms(), "level": "info", "message": "quote served", **overrides}


def test_accepted_spans_are_in_kafka_redacted_when_the_202_comes_back(fresh_settings: Settings) -> None:
    body = {
        "service": "gateway",
        "spans": [
            span(1, kind="server", tags={"http.status_code": 200, "authorization": "Bearer abcdefghijkl"}),
            span(
                2,
                parentSpanId=f"{1:016x}",
                serviceName="orchestrator",
                status="error",
                logs=[{"timestamp": now_ms(), "message": "password=hunter2 rejected", "level": "error"}],
            ),
        ],
    }
    with running_app(fresh_settings, with_sink=False) as client:
        response = client.post(SPANS, json=body)
    assert response.status_code == 202 and response.json() == {"accepted": 2}
    records = dict(read_spans(fresh_settings.kafka_bootstrap, fresh_settings.topics.spans))
    assert set(records) == {b"gateway", b"orchestrator"}  # keyed by service: one record each
    [root], [child] = records[b"gateway"], records[b"orchestrator"]
    assert (root.service, root.kind, root.parent_span_id) == ("gateway", SpanKind.SERVER, None)
    assert root.tags == {"http.status_code": "200", "authorization": REDACTED}
    assert root.end_ns - root.start_ns == 12_250_000
    assert (child.service, child.status, child.parent_span_id) == ("orchestrator", SpanStatus.ERROR, root.span_id)
    assert child.events[0].message == f"password={REDACTED} rejected" and child.events[0].level == "error"


def test_accepted_logs_are_in_kafka_redacted_when_the_202_comes_back(fresh_settings: Settings) -> None:
    body = {
        "service": "frontend",
        "logs": [
            log(trace_id=TRACE, span_id=f"{1:016x}", attributes={"route": "/q", "status": 200}),
            log(level="warn", message="token=abcdef slow"),
        ],
    }
    with running_app(fresh_settings, with_sink=False) as client:
        response = client.post(LOGS, json=body)
    assert response.status_code == 202 and response.json() == {"accepted": 2}
    [(key, records)] = read_logs(fresh_settings.kafka_bootstrap, fresh_settings.topics.logs)
    assert key == b"frontend"
    first, second = records
    assert first.trace_id == TRACE and first.attributes == {"route": "/q", "status": "200"}
    assert second.level is LogLevel.WARN and second.message == f"token={REDACTED} slow"


def test_gzip_bodies_are_accepted(client: TestClient) -> None:
    for url, body in ((SPANS, {"service": "g", "spans": [span()]}), (LOGS, {"service": "g", "logs": [log()]})):
        response = client.post(url, content=gzip.compress(orjson.dumps(body)), headers={"Content-Encoding": "gzip"})
        assert response.status_code == 202 and response.json() == {"accepted": 1}


@pytest.mark.parametrize(
    ("url", "body", "loc"),
    [
        (SPANS, {"service": "g", "spans": [span(traceId="nothex")]}, "spans[0].traceId"),
        (SPANS, {"service": "g", "spans": [span(endTime="later")]}, "spans[0].endTime"),
        (SPANS, {"service": "g", "spans": [span(tags={"k": {"a": 1}})]}, "spans[0].tags.k"),
        (SPANS, {"service": "g", "spans": []}, "spans"),
        (SPANS, {"spans": [span()]}, "service"),
        (LOGS, {"service": "g", "logs": [log(level="loud")]}, "logs[0].level"),
        (LOGS, {"service": "g", "logs": [log(ts=now_ms() + 3_600_000)]}, "logs[0].ts"),
        (LOGS, {"service": "g", "logs": [{"message": "no level"}]}, "logs[0].level"),
    ],
)
def test_bad_batches_are_a_400_naming_the_field(client: TestClient, url: str, body: Any, loc: str) -> None:
    rejected(client.post(url, json=body), 400, loc)


@pytest.mark.parametrize("url", [SPANS, LOGS])
def test_invalid_json_and_oversized_bodies(client: TestClient, url: str) -> None:
    assert rejected(client.post(url, content=b"{"), 400, "body")["error"] == "invalid JSON"
    assert rejected(client.post(url, content=b" " * (16 * MB + 1)), 413, "body")["error"] == "request body too large"
    rejected(client.post(url, content=b"{}", headers={"Content-Encoding": "br"}), 415, "body")


def test_a_batch_over_the_record_limit_is_a_400(client: TestClient) -> None:
    body = {"service": "g", "spans": [span(i + 1) for i in range(10_001)]}
    error = rejected(client.post(SPANS, json=body), 400, "spans")
    assert error["error"] == "oversized batch"


def test_rejected_requests_write_nothing(fresh_settings: Settings) -> None:
    with running_app(fresh_settings, with_sink=False) as client:
        assert client.post(SPANS, json={"service": "g", "spans": [span(1), span(2, spanId="bad")]}).status_code == 400
        assert client.post(LOGS, json={"service": "g", "logs": [log(), log(level="loud")]}).status_code == 400
        assert client.post(SPANS, json={"service": "g", "spans": [span(3)]}).status_code == 202
        assert client.post(LOGS, json={"service": "g", "logs": [log(message="kept")]}).status_code == 202
    assert [
        s.span_id for _, batch in read_spans(fresh_settings.kafka_bootstrap, fresh_settings.topics.spans) for s in batch
    ] == [f"{3:016x}"]
    assert [
        r.message for _, batch in read_logs(fresh_settings.kafka_bootstrap, fresh_settings.topics.logs) for r in batch
    ] == ["kept"]


@pytest.mark.parametrize(
    ("url", "body"), [(SPANS, {"service": "g", "spans": [span()]}), (LOGS, {"service": "g", "logs": [log()]})]
)
def test_kafka_unreachable_is_a_503_with_retry_after(unreachable: TestClient, url: str, body: Any) -> None:
    started = time.monotonic()
    response = unreachable.post(url, json=body)
    assert time.monotonic() - started < 15
    error = rejected(response, 503, "kafka")
    assert int(response.headers["Retry-After"]) > 0 and "Kafka is unavailable" in error["error"]
