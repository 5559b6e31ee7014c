"""``GET /api/v1/traces/{id}``, ``GET /api/v1/traces``, ``GET /api/v1/dependencies`` and the span RED
of ``GET /api/v1/services``, over the real app. Each test reads its own 10-minute slice of time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from api.cache import QueryCache
from api.ttlcache import POLL_TTL_S
from perfpulse.settings import Settings
from schemas import Span, SpanEvent, SpanKind, SpanStatus, encode_spans
from schemas.events import encode_stored, stored_channel
from tests.api.apps import app_store, assert_error_shape
from tests.storage.builders import BASE_MS
from tests.storage.telemetry import MS, insert_spans, span, span_id, trace_id
from tests.storage.test_sink import produce

SLICE_MS = 600_000
SERVER, CLIENT = SpanKind.SERVER, SpanKind.CLIENT


def base_ns(slice_index: int) -> int:
    return (BASE_MS + slice_index * SLICE_MS) * MS


def window(slice_index: int) -> dict[str, int]:
    start = BASE_MS + slice_index * SLICE_MS
    return {"start": start, "end": start + SLICE_MS}


def checkout(trace: int, at_ms: float, slice_index: int, *, fail: bool = False) -> list[Span]:
    base = base_ns(slice_index)
    return [
        span(trace, 1, None, at_ms, 100, service="frontend", operation="GET /checkout", kind=SERVER, base_ns=base,
             tags={"http.route": "/checkout"}),
        span(trace, 2, 1, at_ms + 10, 60, service="frontend", operation="POST gateway", kind=CLIENT, base_ns=base),
        span(trace, 3, 2, at_ms + 15, 50, service="gateway", operation="POST /orders", kind=SERVER, base_ns=base,
             status=SpanStatus.ERROR if fail else SpanStatus.OK, tags={"customer": "c1" if fail else "c2"}),
    ]  # fmt: skip


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_trace_is_a_tree_with_self_times_and_its_critical_path(client: TestClient) -> None:
    spans = checkout(101, 0, 1)
    spans[2].events = [SpanEvent(spans[2].start_ns + 1_000, "slow query", "warn", {"rows": "3"})]
    orphan = span(101, 9, 77, 30, 5, service="worker", operation="job", base_ns=base_ns(1))
    insert_spans(app_store(client), [*spans, orphan])
    body = get(client, f"/api/v1/traces/{trace_id(101).upper()}")
    start = (BASE_MS + SLICE_MS) * 1.0
    assert {k: body[k] for k in ("trace_id", "start", "duration_ms", "span_count", "error_count", "services")} == {
        "trace_id": trace_id(101),
        "start": start,
        "duration_ms": 100.0,
        "span_count": 4,
        "error_count": 0,
        "services": ["frontend", "gateway", "worker"],
    }
    assert (body["root_span_id"], body["orphans"], body["truncated"]) == (span_id(1), 1, False)
    tree = [
        (s["span_id"][-1], s["depth"], s["orphan"], s["children"], s["self_ms"], s["critical_ms"])
        for s in body["spans"]
    ]
    assert tree == [
        ("1", 0, False, [span_id(2)], 40.0, 40.0),
        ("2", 1, False, [span_id(3)], 10.0, 10.0),
        ("3", 2, False, [], 50.0, 50.0),
        ("9", 0, True, [], 5.0, 0.0),
    ]
    # epoch ms in JSON numbers have microsecond resolution (a float's step there is 0.24 us)
    critical = [(c["span_id"][-1], round(c["start"] - start, 3), c["duration_ms"]) for c in body["critical_path"]]
    assert critical == [("1", 0.0, 10.0), ("2", 10.0, 5.0), ("3", 15.0, 50.0), ("2", 65.0, 5.0), ("1", 70.0, 30.0)]
    gateway = body["spans"][2]
    assert (gateway["service"], gateway["kind"], gateway["status"], gateway["tags"]) == (
        "gateway", "server", "ok", {"customer": "c2"},
    )  # fmt: skip
    [event] = gateway["events"]
    assert event == {"ts": event["ts"], "message": "slow query", "level": "warn", "attributes": {"rows": "3"}}
    assert event["ts"] == pytest.approx(start + 15.001, abs=1e-3)


def test_a_trace_answer_is_kept_until_a_span_of_it_is_stored(client: TestClient, module_settings: Settings) -> None:
    cache: QueryCache = client.app.state.cache  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while not cache.hearing:  # trace answers are kept long only while stored spans can be heard
        assert time.monotonic() < deadline, "the cache never subscribed"
        time.sleep(0.05)
    spans, path = checkout(131, 0, 9), f"/api/v1/traces/{trace_id(131)}"
    insert_spans(app_store(client), spans[:2])
    assert get(client, path)["span_count"] == 2
    insert_spans(app_store(client), spans[2:])  # behind the sink's back: nobody is told
    time.sleep(POLL_TTL_S + 0.2)
    assert [get(client, path)["span_count"] for _ in range(2)] == [2, 2]  # kept past a polled read's second
    told = encode_stored([], time.time_ns() // 1_000_000, [trace_id(131)])  # what the sink publishes after its insert
    redis.Redis.from_url(module_settings.redis_url).publish(stored_channel(module_settings.topic_prefix), told)
    while get(client, path)["span_count"] != len(spans):
        assert time.monotonic() < deadline + 30, "the stored span never showed"
        time.sleep(0.05)


def test_an_absent_trace_is_404_and_a_malformed_id_400(client: TestClient) -> None:
    absent = client.get(f"/api/v1/traces/{trace_id(0xDEAD)}")
    assert absent.status_code == 404
    assert_error_shape(absent.json(), "path.trace_id")
    for bad in ("xyz", "0" * 32, "a" * 31, "g" * 32):
        response = client.get(f"/api/v1/traces/{bad}")
        assert response.status_code == 400, bad
        assert_error_shape(response.json(), "path.trace_id")


def search(client: TestClient, slice_index: int, **params: Any) -> list[str]:
    body = get(client, "/api/v1/traces", **window(slice_index), **params)
    return [t["trace_id"] for t in body["traces"]]


def test_search_filters_and_summaries(client: TestClient) -> None:
    insert_spans(
        app_store(client), [*checkout(201, 0, 2), *checkout(202, 1_000, 2, fail=True), *checkout(203, 2_000, 2)]
    )
    assert search(client, 2) == [trace_id(203), trace_id(202), trace_id(201)]
    assert search(client, 2, service="gateway", error="true") == [trace_id(202)]
    assert search(client, 2, operation="POST /orders", error="false") == [trace_id(203), trace_id(201)]
    assert search(client, 2, **{"tag.customer": "c1"}) == [trace_id(202)]
    assert search(client, 2, service="frontend", min_duration_ms=61) == [trace_id(203), trace_id(202), trace_id(201)]
    assert search(client, 2, service="frontend", min_duration_ms=61, max_duration_ms=99) == []
    body = get(client, "/api/v1/traces", **window(2), limit=1)
    assert body["traces"] == [
        {
            "trace_id": trace_id(203),
            "root_service": "frontend",
            "root_operation": "GET /checkout",
            "start": BASE_MS + 2 * SLICE_MS + 2_000.0,
            "duration_ms": 100.0,
            "span_count": 3,
            "error_count": 0,
            "services": ["frontend", "gateway"],
        }
    ]
    assert isinstance(body["next_cursor"], str)


def test_cursors_page_through_every_trace_once(client: TestClient) -> None:
    insert_spans(app_store(client), [s for n in range(25) for s in checkout(300 + n, (n // 4) * 7, 3)])
    everything = search(client, 3, limit=1_000)
    assert len(everything) == 25
    seen: list[str] = []
    cursor = None
    while True:
        body = get(client, "/api/v1/traces", **window(3), limit=4, **({"cursor": cursor} if cursor else {}))
        seen.extend(t["trace_id"] for t in body["traces"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == everything


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 1_001}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"min_duration_ms": 5, "max_duration_ms": 1}, "query.min_duration_ms"),
        ({"min_duration_ms": -1}, "query.min_duration_ms"),
        ({"error": "maybe"}, "query.error"),
        ({"tag.": "x"}, "query.tag."),
        ({"start": "yesterday"}, "query.start"),
    ],
)
def test_bad_search_parameters_are_400(client: TestClient, params: dict[str, Any], loc: str) -> None:
    response = client.get("/api/v1/traces", params=params)
    assert response.status_code == 400, response.text
    assert_error_shape(response.json(), loc)


def test_dependencies_are_the_calls_between_services(client: TestClient) -> None:
    insert_spans(app_store(client), [*checkout(401, 0, 4), *checkout(402, 10, 4, fail=True)])
    body = get(client, "/api/v1/dependencies", **window(4))
    assert body["services"] == ["frontend", "gateway"]
    assert body["edges"] == [
        {"caller": "frontend", "callee": "gateway", "calls": 2, "errors": 1, "error_rate": 0.5, "p95_ms": 50.0}
    ]


def test_services_carry_span_red_beside_metric_red(client: TestClient) -> None:
    insert_spans(app_store(client), [*checkout(501, 0, 5), *checkout(502, 10, 5, fail=True)])
    body = get(client, "/api/v1/services", **window(5))
    services = {s["service"]: s for s in body["services"]}
    assert list(services) == ["frontend", "gateway"]
    gateway = services["gateway"]
    assert (gateway["metrics"], gateway["points"], gateway["red"]) == (0, 0, None)  # seen through its spans only
    assert gateway["last_seen"] == BASE_MS + 5 * SLICE_MS + 25
    red = gateway["span_red"]
    assert (red["basis"], red["requests"], red["errors"], red["error_rate"]) == ("server", 2, 1, 0.5)
    assert red["rate"] == pytest.approx(2 / 600)
    assert red["p50"] == pytest.approx(50.0) and red["p99"] == pytest.approx(50.0)
    assert services["frontend"]["span_red"]["requests"] == 2


def test_spans_sent_to_kafka_are_stored_by_the_sink_redacted(client: TestClient, module_settings: Settings) -> None:
    spans = checkout(601, 0, 6)
    spans[0].tags["http.request.header.authorization"] = "Bearer abcdefghijklmnop"
    asyncio.run(produce(module_settings.kafka_bootstrap, [(module_settings.topics.spans, 0, encode_spans(spans))]))
    deadline = time.monotonic() + 30
    while (response := client.get(f"/api/v1/traces/{trace_id(601)}")).status_code == 404:
        assert time.monotonic() < deadline, "the sink did not store the spans"
        time.sleep(0.2)
    body = response.json()
    assert body["span_count"] == 3
    assert body["spans"][0]["tags"] == {"http.route": "/checkout", "http.request.header.authorization": "[REDACTED]"}
