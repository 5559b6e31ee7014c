"""Redis clients: on a real Redis, more concurrent commands than the pool holds wait for a connection
instead of failing, and the connections stay bounded; an outage as its users see it."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from schemas.redisclient import CONNECT_TIMEOUT_S, MAX_CONNECTIONS, Outage, redis_client


@pytest.mark.integration
def test_more_concurrent_commands_than_connections_wait_for_one(redis_url: str) -> None:
    name = f"t{uuid.uuid4().hex[:12]}"

    async def run() -> tuple[list[object], list[dict[str, str]]]:
        client = redis_client(f"{redis_url}?client_name={name}", 2.0)
        try:
            # each BLPOP of an empty list holds its connection 50 ms: three rounds of the pool
            answers = await asyncio.gather(
                *(client.blpop([f"{name}:empty"], timeout=0.05) for _ in range(3 * MAX_CONNECTIONS)),
                return_exceptions=True,
            )
            return answers, await client.client_list()
        finally:
            await client.aclose()

    answers, listed = asyncio.run(run())
    assert answers == [None] * (3 * MAX_CONNECTIONS)
    assert sum(1 for client in listed if client["name"] == name) == MAX_CONNECTIONS


def test_an_outage_is_skipped_for_its_retry_and_each_fall_and_return_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "t.outage")
    outage = Outage(logging.getLogger("t.outage"), "tests", "going on alone", "tests share it", retry_s=0.05)
    outage.failed(MaxConnectionsError("Too many connections"))  # busy: no outage
    assert not outage.down and not outage.skipping() and caplog.text == ""
    outage.failed(RedisConnectionError("refused"))
    outage.failed(RedisConnectionError("refused again"))
    assert outage.down and outage.skipping()
    assert caplog.text.count("cannot reach Redis for tests: refused; going on alone") == 1
    time.sleep(0.06)
    assert outage.down and not outage.skipping()  # tried again after retry_s
    outage.answered()
    outage.answered()
    assert not outage.down and caplog.text.count("Redis is back: tests share it") == 1


def test_a_connect_gets_longer_than_a_command_but_a_refused_one_fails_at_once() -> None:
    async def scenario() -> None:
        client = redis_client("redis://127.0.0.1:1/0", 0.25)  # nothing listens on port 1
        options = client.connection_pool.connection_kwargs
        assert (options["socket_timeout"], options["socket_connect_timeout"]) == (0.25, CONNECT_TIMEOUT_S)
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await client.ping()
        assert time.monotonic() - started < CONNECT_TIMEOUT_S  # refused, not waited for
        await client.aclose()

    asyncio.run(scenario())
