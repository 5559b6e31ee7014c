"""The stored-windows feed on a real Redis: what the sink's listener is handed arrives on the
deployment's channel, in order; while Redis is down the sink's call returns at once and the messages
wait, and they arrive once Redis is back."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from infra import LocalRedis
from perfpulse import storedfeed
from perfpulse.settings import Settings
from perfpulse.stages import sink_config
from perfpulse.storedfeed import StoredFeed
from schemas.events import StoredWindow, decode_stored, stored_channel

pytestmark = pytest.mark.integration

CELL = StoredWindow("http.server.duration", "gateway", 1_700_000_000_000, 10_000, False)
LATE = StoredWindow("http.server.duration", "checkout", 1_699_999_990_000, 10_000, True)


async def subscribed(redis_url: str, channel: str, count: int) -> asyncio.Task[list[list[StoredWindow]]]:
    """The next ``count`` messages on ``channel``, collected by a task that returns once Redis has
    confirmed the subscription."""
    client: Any = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    confirmation = await pubsub.get_message(timeout=10)
    assert confirmation is not None and confirmation["type"] == "subscribe"

    async def collect() -> list[list[StoredWindow]]:
        messages: list[list[StoredWindow]] = []
        try:
            async with asyncio.timeout(20):
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        messages.append(decode_stored(message["data"])[0])
                        if len(messages) == count:
                            break
        finally:
            await pubsub.aclose()
            await client.aclose()
        return messages

    return asyncio.create_task(collect())


async def test_the_sinks_listener_publishes_on_the_deployments_channel(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, topic_prefix=f"t{uuid.uuid4().hex[:8]}.")
    listen = await subscribed(redis_url, stored_channel(settings.topic_prefix), 2)
    on_stored = sink_config(settings).on_stored
    assert on_stored is not None
    await on_stored([CELL], [])
    await on_stored([LATE, CELL], [])
    assert await listen == [[CELL], [LATE, CELL]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[LocalRedis]:
    """A Redis of this test alone (it is stopped and started again)."""
    server = LocalRedis(tmp_path / "redis", port=_free_port())
    server.home.mkdir(parents=True)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def test_messages_wait_while_redis_is_down_and_arrive_when_it_is_back(own_redis: LocalRedis) -> None:
    subscriber_ready = asyncio.Event()
    retried = asyncio.Event()
    tries = 0

    async def before_publish(redis: Any, windows: list[StoredWindow]) -> None:
        nonlocal tries
        tries += 1
        if tries == 2:
            retried.set()
        await redis.ping()  # fails while Redis is down
        await subscriber_ready.wait()  # once it is back, the test's subscriber listens first

    feed = StoredFeed(own_redis.url, "stored", before_publish)
    try:
        await asyncio.to_thread(own_redis.stop)
        async with asyncio.timeout(0.5):  # never the sink's wait: the calls only queue
            await feed.publish([CELL], [])
            await feed.publish([LATE], [])
        await asyncio.wait_for(retried.wait(), 20)  # the sender failed, waited and tried again
        assert feed.published == 0
        await asyncio.to_thread(own_redis.start)
        listen = await subscribed(own_redis.url, "stored", 2)
        subscriber_ready.set()
        assert await listen == [[CELL], [LATE]]
        assert (feed.published, feed.dropped) == (2, 0)
    finally:
        await feed.close()


async def test_traces_that_got_spans_are_published_in_bounded_messages(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storedfeed, "MAX_TRACES_PER_MESSAGE", 2)
    channel = f"stored-{uuid.uuid4().hex[:8]}"
    client: Any = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    assert (await pubsub.get_message(timeout=10) or {}).get("type") == "subscribe"
    feed = StoredFeed(redis_url, channel)
    try:
        await feed.publish([CELL], ["a" * 32, "b" * 32, "c" * 32])
        heard = []
        async with asyncio.timeout(20):
            while len(heard) < 3:
                message = await pubsub.get_message(timeout=10)
                if message is not None and message["type"] == "message":
                    heard.append(decode_stored(message["data"]))
        assert [(s.windows, s.traces) for s in heard] == [([], ["a" * 32, "b" * 32]), ([], ["c" * 32]), ([CELL], [])]
    finally:
        await feed.close()
        await pubsub.aclose()
        await client.aclose()
