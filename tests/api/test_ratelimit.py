"""Token buckets in a real Redis, and in this process while Redis is down (then back by itself)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from api import ratelimit
from api.ratelimit import Budget, RateLimiter
from infra import LocalRedis
from tests.alerting.receivers import free_port


async def takes(limiter: RateLimiter, budget: str, key: str, n: int) -> list[float | None]:
    return [await limiter.take(budget, key) for _ in range(n)]


def test_a_bucket_allows_its_burst_then_says_when_to_retry(redis_url: str, tmp_path: Path) -> None:
    namespace = f"t{tmp_path.name}."

    async def run() -> None:
        limiter = RateLimiter(redis_url, {"query": Budget(0.5, 3), "write": Budget(0.5, 1)}, namespace)
        try:
            assert await takes(limiter, "query", "k1", 4) == [None, None, None, 2.0]
            # Budgets and keys are separate buckets.
            assert await takes(limiter, "write", "k1", 2) == [None, 2.0]
            assert await takes(limiter, "query", "k2", 1) == [None]
        finally:
            await limiter.close()

    asyncio.run(run())
    assert redis.Redis.from_url(redis_url).exists(f"{namespace}ratelimit:query:k1") == 1


def test_a_second_process_shares_the_bucket(redis_url: str, tmp_path: Path) -> None:
    namespace = f"t{tmp_path.name}."

    async def run() -> None:
        first = RateLimiter(redis_url, {"ingest": Budget(0.5, 2)}, namespace)
        second = RateLimiter(redis_url, {"ingest": Budget(0.5, 2)}, namespace)
        try:
            assert await takes(first, "ingest", "k", 2) == [None, None]
            assert await takes(second, "ingest", "k", 1) == [2.0]
        finally:
            await first.close()
            await second.close()

    asyncio.run(run())


def test_an_unlimited_budget_never_refuses(redis_url: str) -> None:
    async def run() -> None:
        limiter = RateLimiter(redis_url, {"ingest": Budget(0, 1)})
        try:
            assert set(await takes(limiter, "ingest", "k", 50)) == {None}
        finally:
            await limiter.close()

    asyncio.run(run())


def test_more_concurrent_requests_than_connections_share_one_bucket(
    redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """500 requests at once, past the client's 100 connections: each waits for a connection and
    takes from the shared bucket, so the burst of 300 is spent exactly and Redis is not taken for down."""
    namespace = f"t{tmp_path.name}."
    caplog.set_level(logging.INFO, "perfpulse.api.ratelimit")

    async def run() -> list[float | None]:
        limiter = RateLimiter(redis_url, {"query": Budget(0.001, 300)}, namespace)
        try:
            return await asyncio.gather(*(limiter.take("query", "k") for _ in range(500)))
        finally:
            await limiter.close()

    answers = asyncio.run(run())
    assert "cannot reach Redis" not in caplog.text
    assert answers.count(None) == 300


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[tuple[LocalRedis, int]]:
    port = free_port()
    server = LocalRedis(tmp_path / "redis", port=port)
    (tmp_path / "redis").mkdir()
    yield server, port
    server.stop()


def test_without_redis_the_process_counts_alone_and_redis_comes_back_by_itself(
    redis_port: tuple[LocalRedis, int], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server, port = redis_port
    monkeypatch.setattr(ratelimit, "REDIS_RETRY_S", 0.3)
    caplog.set_level(logging.INFO, "perfpulse.api.ratelimit")

    async def run() -> None:
        limiter = RateLimiter(f"redis://127.0.0.1:{port}/0", {"query": Budget(0.5, 2)}, "t.")
        try:
            # Redis down: still limited, in this process; said once.
            assert await takes(limiter, "query", "k", 3) == [None, None, 2.0]
            await asyncio.sleep(0.4)
            assert await takes(limiter, "query", "k", 1) == [2.0]
            assert caplog.text.count("cannot reach Redis") == 1
            # Redis back: the next try after REDIS_RETRY_S uses it again (a fresh bucket there).
            await asyncio.to_thread(server.start)
            await asyncio.sleep(0.4)
            assert await takes(limiter, "query", "k", 1) == [None]
            assert "Redis is back" in caplog.text
        finally:
            await limiter.close()

    asyncio.run(run())
    assert redis.Redis(port=port).exists("t.ratelimit:query:k") == 1
