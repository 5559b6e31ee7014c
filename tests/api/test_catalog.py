"""``GET /api/v1/services`` and ``GET /api/v1/metrics`` over the real app: what exists in a range,
with RED figures from ``http.server.duration``. Each test reads its own 10-minute slice of time."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import ttlcache
from schemas import MetricKind
from tests.api.apps import app_store, assert_error_shape
from tests.storage.builders import BASE_MS, insert_rows, window_row

SLICE_MS = 600_000


def get(client: TestClient, path: str, slice_index: int) -> Any:
    start = BASE_MS + slice_index * SLICE_MS
    response = client.get(path, params={"start": start, "end": start + SLICE_MS})
    assert response.status_code == 200, response.text
    return response.json()


def test_services_carry_red_figures_from_the_request_duration(client: TestClient) -> None:
    t0 = BASE_MS + 1 * SLICE_MS
    insert_rows(
        app_store(client),
        [
            window_row([10.0, 20.0, 30.0], window_start_ms=t0, labels={"status_code": "200"}),
            window_row([40.0], window_start_ms=t0 + 1_000, labels={"status_code": "503"}),
            window_row([1.0], window_start_ms=t0, service="frontend", labels={"status_code": "500"}),
            window_row([5.0, 6.0], window_start_ms=t0 + 2_000, name="queue.depth", kind=MetricKind.GAUGE),
            window_row([1.0], window_start_ms=t0, service="worker", name="jobs", kind=MetricKind.COUNTER),
        ],
    )
    body = get(client, "/api/v1/services", 1)
    assert (body["start"], body["end"]) == (t0, t0 + SLICE_MS)
    services = {s["service"]: s for s in body["services"]}
    assert list(services) == ["frontend", "gateway", "worker"]
    gateway = services["gateway"]
    assert (gateway["metrics"], gateway["points"], gateway["last_seen"]) == (2, 6, t0 + 2_000)
    red = gateway["red"]
    assert (red["requests"], red["errors"], red["error_rate"]) == (4, 1, 0.25)
    assert red["rate"] == pytest.approx(4 / 600)
    assert red["p50"] == pytest.approx(25.0, rel=0.2) and 10.0 <= red["p50"] <= red["p95"] <= red["p99"] <= 40.0
    assert services["frontend"]["red"]["error_rate"] == 1.0
    assert services["worker"]["red"] is None  # no request-duration metric


def test_metrics_lists_kind_services_series_and_points(client: TestClient) -> None:
    t0 = BASE_MS + 2 * SLICE_MS
    insert_rows(
        app_store(client),
        [
            window_row([1.0, 2.0], window_start_ms=t0, labels={"route": "/a"}),
            window_row([3.0], window_start_ms=t0 + 5_000, labels={"route": "/b"}),
            window_row([4.0], window_start_ms=t0, service="frontend", labels={"route": "/a"}),
            window_row([2.0, 2.0], window_start_ms=t0, name="jobs", kind=MetricKind.COUNTER),
        ],
    )
    body = get(client, "/api/v1/metrics", 2)
    assert body["metrics"] == [
        {
            "name": "http.server.duration",
            "kind": "distribution",
            "services": ["frontend", "gateway"],
            "series": 3,
            "points": 4,
            "last_seen": t0 + 5_000,
        },
        {"name": "jobs", "kind": "counter", "services": ["gateway"], "series": 1, "points": 2, "last_seen": t0},
    ]


def test_an_empty_range_lists_nothing(client: TestClient) -> None:
    assert get(client, "/api/v1/services", 3)["services"] == []
    assert get(client, "/api/v1/metrics", 3)["metrics"] == []


def test_default_range_is_the_last_15_minutes(client: TestClient) -> None:
    body = client.get("/api/v1/metrics").json()
    assert body["end"] - body["start"] == 15 * 60_000


@pytest.mark.parametrize("path", ["/api/v1/services", "/api/v1/metrics"])
def test_bad_range_is_a_400(client: TestClient, path: str) -> None:
    response = client.get(path, params={"start": BASE_MS, "end": BASE_MS - 1})
    assert response.status_code == 400
    assert_error_shape(response.json(), "query.start")


@pytest.mark.parametrize("path", ["/api/v1/services", "/api/v1/metrics"])
def test_ranges_a_few_milliseconds_apart_share_one_answer(
    client: TestClient, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ttlcache, "POLL_TTL_S", 60.0)  # a slow machine must not see the answer expire
    monkeypatch.setattr(client.app.state, "ttl_caches", {}, raising=False)  # type: ignore[attr-defined]
    t0 = BASE_MS + 5 * SLICE_MS
    insert_rows(app_store(client), [window_row([10.0], window_start_ms=t0, service=f"shared{path[-1]}")])
    first = client.get(path, params={"start": t0 + 1, "end": t0 + SLICE_MS - 999}).json()
    # stored in between, with no stored-windows message: the answer kept for this second does not show it
    insert_rows(app_store(client), [window_row([20.0], window_start_ms=t0 + 1_000, service=f"late{path[-1]}")])
    second = client.get(path, params={"start": t0 + 400, "end": t0 + SLICE_MS - 1}).json()
    assert (first["start"], first["end"]) == (t0 + 1_000, t0 + SLICE_MS)  # rounded up to whole seconds
    assert second == first
