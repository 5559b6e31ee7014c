"""``POST /api/v1/ingest/metrics`` over the real app and Kafka: 202 only once Kafka holds the points;
400 with field-level reasons, 413 for oversized bodies (gzip bombs included), 503 with Retry-After
when Kafka is unreachable; and a rejected request writes nothing."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient

from ingest.receivers.offload import IngestWorkers
from perfpulse.app import create_app
from perfpulse.settings import Settings
from schemas import MetricBatch, decode_metrics_record
from tests.api.apps import app_store, running_app
from tests.ingest.helpers import read_messages, rejected, serving

pytestmark = pytest.mark.integration

URL = "/api/v1/ingest/metrics"
MB = 1024 * 1024


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def point(**overrides: Any) -> dict[str, Any]:
    return {"name": "http.server.duration", "value": 12.5, "ts": now_ms(), **overrides}


def envelope(*points: dict[str, Any], service: str = "gateway", **extra: Any) -> dict[str, Any]:
    return {"service": service, **extra, "points": list(points)}


def records(bootstrap: str, topic: str) -> list[tuple[bytes | None, MetricBatch]]:
    """Every record of ``topic`` from the beginning, decoded: (key, batch)."""

    async def read() -> list[tuple[bytes | None, MetricBatch]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        found: list[tuple[bytes | None, MetricBatch]] = []
        try:
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
            partitions = sorted(consumer.assignment())
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    for message in messages:
                        decoded = decode_metrics_record(message.value)
                        assert isinstance(decoded, MetricBatch)
                        found.append((message.key, decoded))
            return found
        finally:
            await consumer.stop()

    return asyncio.run(read())


def values_in(found: list[tuple[bytes | None, MetricBatch]]) -> list[float]:
    return sorted(float(v) for _, batch in found for s in batch.series for v in s.values)


# --- accepted --------------------------------------------------------------------------------------


def test_accepted_batch_is_in_kafka_when_the_202_comes_back(fresh_settings: Settings) -> None:
    with running_app(fresh_settings, with_sink=False) as client:
        response = client.post(URL, json=envelope(point(value=1.0), point(value=2), point(name="q", kind="gauge")))
    assert response.status_code == 202 and response.json() == {"accepted": 3}
    found = records(fresh_settings.kafka_bootstrap, fresh_settings.topics.metrics)
    assert {key for key, _ in found} == {b"gateway"}
    assert values_in(found) == [1.0, 2.0, 12.5]


def test_gzip_body_is_accepted(client: TestClient) -> None:
    body = gzip.compress(orjson.dumps(envelope(point(), point())))
    response = client.post(URL, content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 202 and response.json() == {"accepted": 2}


def test_rfc3339_timestamps_and_labels_are_accepted(client: TestClient) -> None:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    response = client.post(URL, json=envelope(point(ts=ts, labels={"route": "/a"}), labels={"region": "eu"}))
    assert response.status_code == 202


def test_batch_at_the_point_limit_is_split_into_records_and_accepted(fresh_settings: Settings) -> None:
    limit = fresh_settings.limits.max_points_per_batch
    ts = now_ms()
    with running_app(fresh_settings, with_sink=False) as client:
        response = client.post(
            URL, json=envelope(*[{"name": "lat", "value": float(i), "ts": ts} for i in range(limit)])
        )
    assert response.status_code == 202 and response.json() == {"accepted": limit}
    found = records(fresh_settings.kafka_bootstrap, fresh_settings.topics.metrics)
    assert values_in(found) == [float(i) for i in range(limit)]
    assert max(batch.n_points for _, batch in found) <= fresh_settings.limits.max_points_per_record


def test_requests_past_the_ingest_slots_share_kafka_commits(fresh_settings: Settings) -> None:
    """A request gives its slot back while its records wait for the Kafka commit: 40 requests at
    once through one slot share a few transactions, where holding the slot made 40 in a row."""
    app = create_app(fresh_settings, with_sink=False, with_notifier=False)
    with serving(app) as url:
        app.state.ingest.workers = IngestWorkers(threads=1, slots=1, queue=64)
        body = orjson.dumps(envelope(point()))
        with ThreadPoolExecutor(40) as pool:
            answers = list(
                pool.map(lambda _: httpx.post(f"{url}{URL}", content=body, timeout=60).status_code, range(40))
            )
    assert answers == [202] * 40
    offsets = [
        m.offset for m in asyncio.run(read_messages(fresh_settings.kafka_bootstrap, fresh_settings.topics.metrics))
    ]
    assert len(offsets) == 40  # one service: one partition, read in offset order
    # the records of one transaction are consecutive; its commit marker takes the next offset
    transactions = 1 + sum(1 for a, b in itertools.pairwise(offsets) if b - a > 1)
    assert transactions <= 20, transactions


# --- 400: field-level reasons ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc", "fragment"),
    [
        (envelope(point(value="fast")), "points[0].value", ""),
        (envelope(point(value=None)), "points[0].value", ""),
        (envelope(point(ts=1.5)), "points[0].ts", ""),
        (envelope({"value": 1.0}), "points[0].name", "required"),
        (envelope(point(name="")), "points[0].name", "non-empty"),
        (envelope(point(name="n" * 201)), "points[0].name", "201 characters"),
        (envelope(point(name="9lives")), "points[0].name", "must start with a letter"),
        (envelope(point(kind="histogram")), "points[0].kind", ""),
        (envelope(point(labels={f"k{i}": "v" for i in range(33)})), "points[0].labels", "33 labels"),
        (envelope(point(labels={"status": 200})), "points[0].labels.status", ""),
        (envelope(point(labels={"service": "x"})), "points[0].labels", "reserved"),
        (envelope(point(ts="yesterday")), "points[0].ts", "cannot read timestamp"),
        (envelope(point(unit="ms")), "points[0].unit", ""),
        (envelope(point(), service="has space"), "service", "characters outside"),
        (envelope(), "points", "at least one point"),
        ({"points": [point()]}, "service", "required"),
        ([point()], "body", ""),
    ],
)
def test_bad_batch_is_a_400_naming_the_field(client: TestClient, body: Any, loc: str, fragment: str) -> None:
    error = rejected(client.post(URL, json=body), 400)
    assert error["details"] and all(d["loc"].startswith(loc) for d in error["details"]), error
    assert fragment.lower() in " ".join(d["msg"] for d in error["details"]).lower()


@pytest.mark.parametrize(
    ("offset_ms", "fragment"), [(-25 * 3_600_000, "h in the past"), (11 * 60_000, "min in the future")]
)
def test_timestamp_outside_the_accepted_skew_is_a_400(client: TestClient, offset_ms: int, fragment: str) -> None:
    error = rejected(client.post(URL, json=envelope(point(ts=now_ms() + offset_ms))), 400, "points[0].ts")
    assert fragment in error["details"][0]["msg"]


def test_wrongly_typed_value_gets_one_reason_at_its_own_location(client: TestClient) -> None:
    error = rejected(client.post(URL, json=envelope(point(value="fast"))), 400)
    assert [d["loc"] for d in error["details"]] == ["points[0].value"]


@pytest.mark.parametrize("literal", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
def test_non_finite_value_literal_is_a_400(client: TestClient, literal: bytes) -> None:
    body = b'{"service": "gateway", "points": [{"name": "lat", "value": ' + literal + b"}]}"
    error = rejected(client.post(URL, content=body), 400, "body")
    assert error["error"] == "invalid JSON"


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b'{"service": "gateway", "points": [}'])
def test_invalid_json_is_a_400(client: TestClient, body: bytes) -> None:
    assert rejected(client.post(URL, content=body), 400, "body")["error"] == "invalid JSON"


def test_type_errors_are_reported_even_beside_other_bad_fields(client: TestClient) -> None:
    body = envelope(point(), point(name="9x"), point(value="x"))
    error = rejected(client.post(URL, json=body), 400)
    assert all(d["loc"].startswith("points[2].value") for d in error["details"]), error


def test_every_bad_field_of_well_typed_points_is_reported(client: TestClient) -> None:
    body = envelope(point(), point(name="9x"), point(), point(ts=now_ms() + 3_600_000))
    error = rejected(client.post(URL, json=body), 400)
    assert [d["loc"] for d in error["details"]] == ["points[1].name", "points[3].ts"]


def test_oversized_batch_is_a_400(client: TestClient) -> None:
    ts = now_ms()
    body = envelope(*[{"name": "lat", "value": 1.0, "ts": ts}] * 50_001)
    error = rejected(client.post(URL, json=body), 400, "points")
    assert error["error"] == "oversized batch" and "50001 points, the limit is 50000" in error["details"][0]["msg"]


# --- 413 / 415: body size and encoding -------------------------------------------------------------


def test_body_over_the_byte_limit_is_a_413(client: TestClient) -> None:
    body = b" " * (16 * MB + 1)
    error = rejected(client.post(URL, content=body), 413, "body")
    assert error["error"] == "request body too large"


def test_gzip_bomb_is_a_413_without_inflating_it(client: TestClient) -> None:
    bomb = gzip.compress(b" " * (200 * MB), compresslevel=9)
    assert len(bomb) < MB
    started = time.monotonic()
    response = client.post(URL, content=bomb, headers={"Content-Encoding": "gzip"})
    assert time.monotonic() - started < 10
    error = rejected(response, 413, "body")
    assert "once decompressed" in error["details"][0]["msg"]


def test_invalid_gzip_is_a_400(client: TestClient) -> None:
    error = rejected(client.post(URL, content=b"not gzip at all", headers={"Content-Encoding": "gzip"}), 400)
    assert error["error"] == "invalid gzip body"


def test_unsupported_content_encoding_is_a_415(client: TestClient) -> None:
    rejected(client.post(URL, content=b"{}", headers={"Content-Encoding": "br"}), 415, "body")


def test_multi_member_gzip_body_is_read_whole(client: TestClient) -> None:
    text = orjson.dumps(envelope(point(), point()))
    body = gzip.compress(text[:20]) + gzip.compress(text[20:])
    assert gzip.decompress(body) == text
    response = client.post(URL, content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 202, response.text


def test_batch_within_the_documented_limits_is_accepted_whatever_its_label_sizes(client: TestClient) -> None:
    ts = now_ms()
    body = envelope(
        *[{"name": "lat", "value": 1.0, "ts": ts, "labels": {"url": f"{i:04d}" + "x" * 996}} for i in range(1_200)]
    )
    assert len(orjson.dumps(body)) < 16 * MB
    response = client.post(URL, json=body)
    assert response.status_code == 202, response.text


# --- nothing stored from a rejected request; 503 when Kafka is down ------------------------------------


def test_rejected_requests_write_nothing(fresh_settings: Settings) -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    good = envelope(point(value=1.0), point(value=2.0), point(value=3.0), service=service)
    with running_app(fresh_settings) as client:  # with the sink: points also land in ClickHouse
        bad_requests: list[dict[str, Any]] = [
            {"json": envelope(point(value=100.0), point(name="9x"), service=service)},
            {"json": envelope(point(value=100.0), point(ts=now_ms() - 48 * 3_600_000), service=service)},
            {"json": envelope(point(value=100.0), point(labels={f"k{i}": "v" for i in range(40)}), service=service)},
            {"content": orjson.dumps(envelope(point(value=100.0), service=service))[:-2]},
            {"content": gzip.compress(b" " * (20 * MB)), "headers": {"Content-Encoding": "gzip"}},
        ]
        for request in bad_requests:
            assert client.post(URL, **request).status_code in (400, 413)
        assert client.post(URL, json=good).status_code == 202
        found = records(fresh_settings.kafka_bootstrap, fresh_settings.topics.metrics)
        assert values_in(found) == [1.0, 2.0, 3.0]
        store = app_store(client)
        deadline = time.monotonic() + 30
        while store.rows("SELECT count() FROM points WHERE service = {s:String}", {"s": service}) != [(3,)]:
            assert time.monotonic() < deadline, "the sink did not store the accepted points"
            time.sleep(0.2)
        time.sleep(1.5)  # one more flush interval: nothing else arrives
        stored = store.rows("SELECT value FROM points WHERE service = {s:String} ORDER BY value", {"s": service})
        assert stored == [(1.0,), (2.0,), (3.0,)]


def test_kafka_unreachable_is_a_503_with_retry_after_and_answers_fast(unreachable: TestClient) -> None:
    for _ in range(3):  # and again: the producer retries each time, without piling up
        started = time.monotonic()
        response = unreachable.post(URL, json=envelope(point()))
        assert time.monotonic() - started < 15
        error = rejected(response, 503, "kafka")
        assert int(response.headers["Retry-After"]) > 0
        assert "Kafka is unavailable" in error["error"]


def test_kafka_unreachable_still_validates_first(unreachable: TestClient) -> None:
    rejected(unreachable.post(URL, json=envelope(point(name="9x"))), 400, "points[0].name")
