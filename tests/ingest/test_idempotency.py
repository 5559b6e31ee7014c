"""``Idempotency-Key`` on the ingest endpoints, over the real app, Kafka and Redis: a replayed key is
answered from its record and sends nothing, another body with it gets 422, one in progress 409, a
request answered 503 leaves its key free for the retry, and a process that died around its commit
leaves a claim its successor settles from Kafka: answered again if committed, sent if aborted."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

import pytest
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from starlette.requests import Request

from ingest.producer import RecordProducer
from ingest.receivers.idempotency import MAX_KEY_CHARS, REPLAYED_HEADER, Idempotency
from ingest.receivers.inflate import RawBody
from ingest.witness import WITNESS, Witness
from perfpulse.settings import Settings
from schemas import RecordType, Topics
from tests.api.apps import running_app
from tests.ingest.helpers import read_batches, read_records, rejected
from tests.ingest.test_http import URL, envelope, point

pytestmark = pytest.mark.integration


def stored_values(settings: Settings) -> list[float]:
    """Every point value of the metrics topic, as the stream worker and the sink read it."""
    found = asyncio.run(read_batches(settings.kafka_bootstrap, settings.topics.metrics))
    return sorted(float(v) for _, batch in found for series in batch.series for v in series.values)


def test_a_replayed_key_is_answered_from_its_record_and_sends_nothing(fresh_settings: Settings) -> None:
    body = envelope(point(value=1.0), point(value=2.0))
    key = {"Idempotency-Key": f"batch-{uuid.uuid4()}"}
    with running_app(fresh_settings, with_sink=False) as client:
        first = client.post(URL, json=body, headers=key)
        again = client.post(URL, json=body, headers=key)
        other = client.post(URL, json=envelope(point(value=3.0)), headers=key)
    assert first.status_code == 202 and REPLAYED_HEADER not in first.headers
    assert again.status_code == 202 and again.json() == first.json() == {"accepted": 2}
    assert again.headers[REPLAYED_HEADER] == "true"
    assert rejected(other, 422, "header.idempotency-key")["error"] == "Idempotency-Key reused"
    assert stored_values(fresh_settings) == [1.0, 2.0]


def test_a_request_answered_503_leaves_its_key_to_the_retry(
    module_settings: Settings, client: TestClient, unreachable: TestClient
) -> None:
    body = envelope(point(value=7.0), service="k503")
    key = {"Idempotency-Key": f"batch-{uuid.uuid4()}"}
    assert unreachable.post(URL, json=body, headers=key).status_code == 503
    retried = client.post(URL, json=body, headers=key)
    assert retried.status_code == 202 and REPLAYED_HEADER not in retried.headers
    assert client.post(URL, json=body, headers=key).headers[REPLAYED_HEADER] == "true"
    found = asyncio.run(read_batches(module_settings.kafka_bootstrap, module_settings.topics.metrics))
    assert [key for key, _ in found].count(b"k503") == 1


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (b"", "0 characters"),
        (b"k" * (MAX_KEY_CHARS + 1), f"{MAX_KEY_CHARS + 1} characters"),
        ("caf\u00e9".encode(), "printable ASCII"),
        (b"tab\there", "printable ASCII"),
    ],
)
def test_an_invalid_key_is_a_400_naming_it(client: TestClient, value: bytes, fragment: str) -> None:
    response = client.post(URL, json=envelope(point()), headers=[(b"idempotency-key", value)])
    assert fragment in rejected(response, 400, "header.idempotency-key")["details"][0]["msg"]


def request(key: str, authorization: str = "") -> Request:
    headers = [(b"idempotency-key", key.encode())]
    if authorization:
        headers.append((b"authorization", authorization.encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "path": URL,
        "query_string": b"",
        "headers": headers,
    }
    return Request(scope)


class Calls:
    """Request handlers answering 202 that count their calls; a ``held`` one waits for :attr:`gate`."""

    def __init__(self) -> None:
        self.n = 0
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    def handler(self, held: bool = False) -> Callable[[], Awaitable[Response]]:
        async def handle() -> Response:
            self.n += 1
            self.entered.set()
            if held:
                await self.gate.wait()
            return JSONResponse({"accepted": 1}, status_code=202)

        return handle


async def test_a_key_in_progress_is_a_409_and_then_replayed(redis_url: str) -> None:
    records = Idempotency(redis_url, namespace=f"t{uuid.uuid4().hex[:8]}.")
    body, key, calls = RawBody(b"{}", False), "k1", Calls()
    try:
        first = asyncio.create_task(records.answer(request(key), body, calls.handler(held=True)))
        await calls.entered.wait()
        busy = await records.answer(request(key), body, calls.handler())
        assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
        calls.gate.set()
        assert (await first).status_code == 202
        replayed = await records.answer(request(key), body, calls.handler())
        assert replayed.status_code == 202 and replayed.headers[REPLAYED_HEADER] == "true"
        # another API key's same key is its own
        assert REPLAYED_HEADER not in (await records.answer(request(key, "Bearer pp_b"), body, calls.handler())).headers
        assert calls.n == 2
    finally:
        await records.close()


async def test_a_restarted_process_takes_over_its_predecessors_claims(redis_url: str) -> None:
    namespace = f"t{uuid.uuid4().hex[:8]}."
    dead, successor = Idempotency(redis_url, namespace=namespace, group="api-1"), None
    other = Idempotency(redis_url, namespace=namespace, group="api-2")
    body, calls = RawBody(b"{}", False), Calls()
    try:
        lost = asyncio.create_task(dead.answer(request("k"), body, calls.handler(held=True)))  # never answered
        await calls.entered.wait()
        assert (await other.answer(request("k"), body, calls.handler())).status_code == 409
        successor = Idempotency(redis_url, namespace=namespace, group="api-1")
        assert (await successor.answer(request("k"), body, calls.handler())).status_code == 202
        lost.cancel()  # its release must not drop the successor's record
        await asyncio.gather(lost, return_exceptions=True)
        assert (await other.answer(request("k"), body, calls.handler())).headers[REPLAYED_HEADER] == "true"
        assert calls.n == 2
    finally:
        for one in (dead, other, successor):
            if one is not None:
                await one.close()


async def test_more_requests_at_once_than_connections_keep_their_records_in_redis(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """500 keyed requests at once, past the client's 100 connections: each record is kept in Redis
    (where every API process finds it), none in this process alone."""
    namespace = f"t{uuid.uuid4().hex[:8]}."
    records, other = Idempotency(redis_url, namespace=namespace), Idempotency(redis_url, namespace=namespace)
    body, calls = RawBody(b"{}", False), Calls()
    caplog.set_level(logging.INFO, "perfpulse.ingest.idempotency")
    try:
        first = await asyncio.gather(*(records.answer(request(f"k{i}"), body, calls.handler()) for i in range(500)))
        assert {response.status_code for response in first} == {202}
        assert "cannot reach Redis" not in caplog.text
        again = await asyncio.gather(*(other.answer(request(f"k{i}"), body, calls.handler()) for i in range(500)))
        assert {response.headers.get(REPLAYED_HEADER) for response in again} == {"true"}
        assert calls.n == 500
    finally:
        await records.close()
        await other.close()


async def test_redis_down_keeps_records_in_the_process() -> None:
    records = Idempotency("redis://127.0.0.1:1/0")
    body, calls = RawBody(b"{}", False), Calls()
    try:
        assert (await records.answer(request("k"), body, calls.handler())).status_code == 202
        assert (await records.answer(request("k"), body, calls.handler())).headers[REPLAYED_HEADER] == "true"
        assert (await records.answer(request("k"), RawBody(b"[]", False), calls.handler())).status_code == 422
        assert calls.n == 1
    finally:
        await records.close()


async def test_a_body_past_a_mebibyte_is_recognised_by_its_digest_made_off_the_loop(redis_url: str) -> None:
    records = Idempotency(redis_url, namespace=f"t{uuid.uuid4().hex[:8]}.")
    big = b"x" * (2 * 1024 * 1024)
    calls = Calls()
    try:
        assert (await records.answer(request("big"), RawBody(big, False), calls.handler())).status_code == 202
        replayed = await records.answer(request("big"), RawBody(big, False), calls.handler())
        assert replayed.headers[REPLAYED_HEADER] == "true"
        other = await records.answer(request("big"), RawBody(big[:-1] + b"y", False), calls.handler())
        assert other.status_code == 422 and calls.n == 1
    finally:
        await records.close()


class DiesAt(Witness):
    """Wraps a request's witness: the process "dies" (hangs for good) right before the commit, or
    right after it, before the answer is kept."""

    def __init__(self, inner: Witness, after_commit: bool, placed: asyncio.Event) -> None:
        self.inner, self.after_commit, self.replaying, self.placed = inner, after_commit, inner.replaying, placed

    async def before_commit(self, topic: str, partition: int, offset: int) -> None:
        await self.inner.before_commit(topic, partition, offset)
        self.placed.set()
        if not self.after_commit:
            await asyncio.Event().wait()


@pytest.mark.parametrize("after_commit", [True, False], ids=["killed after its commit", "killed before it"])
async def test_a_claim_left_around_a_commit_is_settled_by_the_successor_from_kafka(
    kafka_bootstrap: str, redis_url: str, topics: Topics, after_commit: bool
) -> None:
    """The window the claim alone left open: Kafka committed, the process died before keeping the
    answer. The successor reads the placed record back and answers without sending it again; a
    transaction that was never committed is sent by the successor instead. One record either way."""
    namespace, transactional_id = f"t{uuid.uuid4().hex[:8]}.", f"test-{topics.prefix}"
    dead_producer = RecordProducer(kafka_bootstrap, topics, transactional_id=transactional_id, request_timeout_s=60)
    dead = Idempotency(redis_url, namespace=namespace, group="api-1", committed=dead_producer.committed)
    body = RawBody(b"one record", False)
    placed, committed = asyncio.Event(), asyncio.Event()

    def handler(producer: RecordProducer) -> Callable[[], Awaitable[Response]]:
        async def handle() -> Response:
            if producer is dead_producer:
                inner = WITNESS.get()
                assert inner is not None
                WITNESS.set(DiesAt(inner, after_commit, placed))
            await producer.send(topics.logs, RecordType.LOGS, [(b"gateway", body.data, "a log record")])
            if producer is dead_producer:
                committed.set()
                await asyncio.Event().wait()  # dead after its send returned: nothing more of it runs
            return JSONResponse({"accepted": 1}, status_code=202)

        return handle

    lost = asyncio.create_task(dead.answer(request("k"), body, handler(dead_producer)))
    successor_producer, successor = None, None
    try:
        async with asyncio.timeout(30):
            await (committed if after_commit else placed).wait()
        successor_producer = RecordProducer(kafka_bootstrap, topics, transactional_id=transactional_id)
        successor = Idempotency(redis_url, namespace=namespace, group="api-1", committed=successor_producer.committed)
        answered = await successor.answer(request("k"), body, handler(successor_producer))
        assert answered.status_code == 202
        assert (answered.headers.get(REPLAYED_HEADER) == "true") is after_commit
        again = await successor.answer(request("k"), body, handler(successor_producer))
        assert again.status_code == 202 and again.headers[REPLAYED_HEADER] == "true"
        stored = await read_records(kafka_bootstrap, topics.logs)
        assert [value for _, _, value in stored] == [body.data]
    finally:
        lost.cancel()
        await asyncio.gather(lost, return_exceptions=True)
        for one in (dead, successor):
            if one is not None:
                await one.close()
        for producer in (dead_producer, successor_producer):
            if producer is not None:
                await producer.stop()
