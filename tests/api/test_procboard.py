"""api/procboard.py on the shared Redis: each process's sample as one field of the deployment's hash,
read back sorted, stale and unreadable fields dropped, reads bounded, a reporter's field taken off
when it stops, and an unreachable Redis named without its address."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import orjson
import pytest
import redis

from api.procboard import MAX_PROCESSES, STALE_AFTER_S, BoardUnreachable, ProcessBoard, reporting
from api.selfstats import ProcessSample, SelfSampler

NOW_MS = 1_800_000_000_000


def sample(role: str, pid: int, at_ms: int = NOW_MS, host: str = "h1") -> ProcessSample:
    return ProcessSample(role, host, pid, NOW_MS - 60_000, at_ms, 50_000_000, 12.5, 4, None, None)


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def test_samples_are_read_back_sorted_and_stale_or_damaged_fields_deleted(redis_url: str, namespace: str) -> None:
    async def scenario() -> tuple[list[ProcessSample], int]:
        async with ProcessBoard(redis_url, namespace) as board:
            for s in (sample("stream", 30), sample("api+sink+notifier", 10), sample("stream", 20, host="h0")):
                await board.put(s)
            await board.put(sample("stream", 40, at_ms=NOW_MS - int(STALE_AFTER_S * 1000) - 1))
            raw = redis.Redis.from_url(redis_url)
            raw.hset(board.key, "h9:9", b"{not json")
            raw.hset(board.key, "h9:8", b'{"role": "older version"}')
            read = await board.read(NOW_MS)
            return read, int(raw.hlen(board.key))

    read, left = asyncio.run(scenario())
    assert [(s.role, s.host, s.pid) for s in read] == [
        ("api+sink+notifier", "h1", 10),
        ("stream", "h0", 20),
        ("stream", "h1", 30),
    ]
    assert read[0] == sample("api+sink+notifier", 10)  # every figure as written
    assert left == 3  # the stale and the two unreadable fields were deleted


def test_a_read_holds_at_most_max_processes(redis_url: str, namespace: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    key = f"{namespace}procs"
    body = dataclasses.asdict(sample("stream", 0))
    raw.hset(key, mapping={f"h:{i}": orjson.dumps({**body, "pid": i}) for i in range(MAX_PROCESSES + 50)})
    raw.expire(key, 60)

    async def scenario() -> list[ProcessSample]:
        async with ProcessBoard(redis_url, namespace) as board:
            return await board.read(NOW_MS)

    assert len(asyncio.run(scenario())) == MAX_PROCESSES


def test_a_reporter_writes_its_process_and_takes_it_off_when_it_stops(redis_url: str, namespace: str) -> None:
    async def scenario() -> tuple[list[ProcessSample], list[ProcessSample]]:
        async with ProcessBoard(redis_url, namespace) as board:
            async with reporting(board, SelfSampler("sink"), every_s=0.05) as latest:
                for _ in range(300):  # the first report is a thread's /proc read away
                    if during := await board.read():
                        break
                    await asyncio.sleep(0.05)
                assert latest and latest[0].role == "sink"
            return during, await board.read()

    during, after = asyncio.run(scenario())
    assert [s.role for s in during] == ["sink"] and during[0].rss_bytes and during[0].rss_bytes > 0
    assert after == []


def test_an_unreachable_redis_is_named_without_its_address() -> None:
    async def scenario() -> None:
        async with ProcessBoard("redis://:hunter2@127.0.0.1:1/0", "x.") as board:
            await board.read()

    with pytest.raises(BoardUnreachable) as raised:
        asyncio.run(scenario())
    assert "hunter2" not in str(raised.value) and "127.0.0.1" not in str(raised.value)
