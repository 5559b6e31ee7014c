"""Liveness, readiness (Kafka and storage), Prometheus exposition and the OpenAPI docs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from perfpulse.settings import Settings
from tests.api.apps import unreachable_kafka_app


@pytest.fixture(scope="module")
def unreachable(module_settings: Settings, client: TestClient) -> Iterator[TestClient]:
    """The app with Kafka unreachable (and the module's store, which ``client`` keeps open)."""
    with unreachable_kafka_app(module_settings) as running:
        yield running


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_200_with_kafka_and_storage_up(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ready", {"kafka": "ok", "storage": "ok"})
    # The stages this process runs beside the API (embedded store: the sink and the notifier) report too.
    assert set(body["stages"]) == {"sink", "notifier"}
    assert all(isinstance(s["ok"], bool) and isinstance(s["detail"], str) for s in body["stages"].values())


def test_readyz_is_503_when_kafka_is_unreachable_and_answers_quickly(unreachable: TestClient) -> None:
    started = time.monotonic()
    response = unreachable.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["checks"]) == ("not ready", {"kafka": "unreachable", "storage": "ok"})
    assert body["stages"] == {}  # this app runs neither sink nor notifier


def test_healthz_stays_ok_when_kafka_is_unreachable(unreachable: TestClient) -> None:
    assert unreachable.get("/healthz").status_code == 200


def test_metrics_is_prometheus_text_with_perfpulse_counters(client: TestClient) -> None:
    client.post("/api/v1/ingest/metrics", content=b"{")  # one rejected request, counted
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE perfpulse_ingest_requests_rejected_total counter" in text
    assert 'perfpulse_ingest_requests_rejected_total{source="http",status="400"}' in text
    assert "# TYPE perfpulse_sink_rows_inserted_total counter" in text


def test_openapi_describes_the_v1_api(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/ingest/metrics", "/api/v1/query", "/api/v1/services", "/api/v1/metrics", "/readyz"):
        assert path in paths, path
    assert "post" in paths["/api/v1/ingest/metrics"]
    query_params = {p["name"] for p in paths["/api/v1/query"]["get"]["parameters"]}
    assert {"metric", "service", "start", "end", "step", "stats", "group_by"} <= query_params


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert "/openapi.json" in response.text
