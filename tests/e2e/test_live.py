"""The live feed through the real path: points ingested over HTTP, windows closed by a stream
worker, stored by the sink, published on Redis by the sink's listener, pushed by the API process to
a WebSocket client; what the client got per window is what the query API answers for it."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

METRIC = "live.e2e.duration"
POINTS = 300


def test_windows_stored_by_the_sink_reach_a_websocket_client(deployment: Deployment) -> None:
    address = deployment.url.removeprefix("http://")
    with connect(f"ws://{address}/api/v1/live", open_timeout=30) as ws:
        assert orjson.loads(ws.recv(30))["type"] == "hello"
        sub = {"id": "e2e", "kind": "query", "metric": METRIC, "stats": ["count", "p50"], "group_by": []}
        ws.send(orjson.dumps({"type": "subscribe", "subscriptions": [sub]}).decode())
        assert orjson.loads(ws.recv(30))["type"] == "subscribed"
        now = int(time.time() * 1000)
        points = [{"name": METRIC, "value": float(i % 50 + 1), "ts": now - 500 + i} for i in range(POINTS)]
        deadline = time.monotonic() + 60
        while (
            status := deployment.post("/api/v1/ingest/metrics", {"service": "gateway", "points": points}).status_code
        ) == 503:
            assert time.monotonic() < deadline, "ingest still answers 503"
            time.sleep(0.5)  # Kafka may still be electing leaders of the fresh topics
        assert status == 202
        latest: dict[int, dict[str, Any]] = {}  # window start -> its last result (a late one replaces)
        deadline = time.monotonic() + 120
        while sum(counts(latest).values()) < POINTS:
            assert time.monotonic() < deadline, f"only {counts(latest)} of {POINTS} points came live"
            body = orjson.loads(ws.recv(120))
            if body["type"] == "batch":
                received = time.time() * 1000
                for event in body["events"]:
                    assert event["stored_at"] <= received + 5  # stored before it was received (same clock)
                    latest[event["window"]["start"]] = event
    assert sum(counts(latest).values()) == POINTS
    for start, event in latest.items():
        answer = deployment.get(
            "/api/v1/query", metric=METRIC, start=start, end=event["window"]["end"], step="1s",
            stats="count,p50", group_by="",
        ).json()  # fmt: skip
        assert event["data"] == answer


def counts(latest: dict[int, dict[str, Any]]) -> dict[int, int]:
    return {start: sum(p["count"] for s in e["data"]["series"] for p in s["points"]) for start, e in latest.items()}
