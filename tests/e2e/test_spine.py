"""The metrics spine end to end on real Kafka and chDB: points in over HTTP and the SDK,
percentiles out of /api/v1/query within 1 % of numpy's exact ones, counts exact."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import pytest

from ingest import Emitter
from tests.e2e.conftest import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

METRIC = "http.server.duration"
QS = {"p50": 50, "p95": 95, "p99": 99}


def make_points(n: int, now_ms: int, seed: int) -> list[tuple[str, str, int, float]]:
    """(service, route, ts, value): lognormal latencies with a Pareto tail on one service, spread
    over the last 25 s (older than window + grace: some land as late corrections)."""
    rng = np.random.default_rng(seed)
    services = rng.choice(["gateway", "orchestrator", "frontend"], n)
    routes = rng.choice(["/a", "/b", "/c", "/d"], n)
    values = rng.lognormal(3.0, 0.9, n)
    tail = services == "orchestrator"
    values[tail] = (rng.pareto(1.8, tail.sum()) + 1) * 12
    ts = now_ms - rng.integers(0, 25_000, n)
    return [(str(s), str(r), int(t), float(v)) for s, r, t, v in zip(services, routes, ts, values, strict=True)]


def post_points(deployment: Deployment, points: list[tuple[str, str, int, float]], per_request: int = 10_000) -> None:
    by_service: dict[str, list[dict[str, object]]] = defaultdict(list)
    for service, route, ts, value in points:
        by_service[service].append({"name": METRIC, "value": value, "ts": ts, "labels": {"route": route}})
    for service, items in by_service.items():
        for start in range(0, len(items), per_request):
            response = deployment.post(
                "/api/v1/ingest/metrics", {"service": service, "points": items[start : start + per_request]}
            )
            assert response.status_code == 202, response.text
            assert response.json() == {"accepted": len(items[start : start + per_request])}


def assert_close(got: dict[str, float], values: list[float], where: str) -> None:
    for stat, q in QS.items():
        exact = float(np.percentile(values, q))
        assert abs(got[stat] - exact) <= 0.01 * exact, f"{where} {stat}: {got[stat]:.4f} vs exact {exact:.4f}"


def check_queries(deployment: Deployment, points: list[tuple[str, str, int, float]], start: int, end: int) -> None:
    query = {"metric": METRIC, "start": start, "end": end, "stats": "p50,p95,p99,count"}
    whole = deployment.get("/api/v1/query", **query, group_by="").json()
    [series] = whole["series"]
    [point] = series["points"]
    assert point["count"] == len(points)
    assert_close(point, [p[3] for p in points], "whole range")

    by_service = deployment.get("/api/v1/query", **query, group_by="service").json()["series"]
    assert {s["group"]["service"] for s in by_service} == {"gateway", "orchestrator", "frontend"}
    for s in by_service:
        values = [p[3] for p in points if p[0] == s["group"]["service"]]
        assert s["points"][0]["count"] == len(values)
        assert_close(s["points"][0], values, f"service={s['group']['service']}")

    by_route = deployment.get("/api/v1/query", **query, group_by="route", **{"label.route": "/b"}).json()["series"]
    [route_b] = by_route
    values = [p[3] for p in points if p[1] == "/b"]
    assert route_b["group"] == {"route": "/b"} and route_b["points"][0]["count"] == len(values)
    assert_close(route_b["points"][0], values, "route=/b")

    stepped = deployment.get("/api/v1/query", **query, group_by="", step="10s").json()
    assert stepped["step_ms"] == 10_000
    buckets: dict[int, list[float]] = defaultdict(list)
    for _, _, ts, value in points:
        buckets[ts - ts % 10_000].append(value)
    [series] = stepped["series"]
    assert [p["t"] for p in series["points"]] == sorted(buckets)
    for p in series["points"]:
        assert p["count"] == len(buckets[p["t"]])
        if len(buckets[p["t"]]) >= 5_000:  # a percentile of a few values is not a 1 % question
            assert_close(p, buckets[p["t"]], f"step t={p['t']}")


def test_http_points_give_exact_counts_and_percentiles_within_one_percent(deployment: Deployment) -> None:
    now = time.time_ns() // 1_000_000
    points = make_points(100_000, now, seed=1)
    post_points(deployment, points)
    start, end = now - 60_000, now + 60_000
    deployment.wait_count(METRIC, start, end, len(points))
    check_queries(deployment, points, start, end)


def test_sdk_points_give_exact_counts_and_percentiles_within_one_percent(deployment: Deployment) -> None:
    now = time.time_ns() // 1_000_000
    points = make_points(100_000, now, seed=2)
    settings = deployment.settings
    emitters = {
        service: Emitter(service, settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
        for service in ("gateway", "orchestrator", "frontend")
    }
    for service, route, ts, value in points:
        emitters[service].observe(METRIC, value, ts_ms=ts, route=route)
    for emitter in emitters.values():
        assert emitter.close(timeout=60)
        assert emitter.dropped == 0
    assert sum(e.sent for e in emitters.values()) == len(points)
    start, end = now - 60_000, now + 60_000
    deployment.wait_count(METRIC, start, end, len(points))
    check_queries(deployment, points, start, end)
