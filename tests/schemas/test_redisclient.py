"""Redis clients on a real Redis: more concurrent commands than the pool holds wait for a connection
instead of failing, and the connections stay bounded."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.redisclient import MAX_CONNECTIONS, redis_client

pytestmark = pytest.mark.integration


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
