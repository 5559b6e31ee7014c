"""The process board: every perfpulse process (API, stream workers, sink, notifier) writes its own
resource sample (api/selfstats.py) every :data:`REPORT_EVERY_S` seconds into one Redis hash of the
deployment, and the API reads them all. Redis is what every process of a deployment already reaches,
on one host (``perfpulse up``) or many (a process per container), so no process needs another's
address. One field per process; a field not refreshed for :data:`STALE_AFTER_S` is a process gone,
dropped by the next reader; the hash expires when no process writes any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import orjson
from redis.exceptions import RedisError

from api.selfstats import ProcessSample, SelfSampler
from schemas.redisclient import redis_client

__all__ = ["MAX_PROCESSES", "REPORT_EVERY_S", "STALE_AFTER_S", "BoardUnreachable", "ProcessBoard", "reporting"]

log = logging.getLogger("perfpulse.procboard")

REPORT_EVERY_S = 5.0
STALE_AFTER_S = 30.0  # six reports missed: the process is gone (or cannot reach Redis)
MAX_PROCESSES = 256  # fields read per request at most; more processes are left out of the answer
_TIMEOUT_S = 1.0  # a slow Redis holds neither a request nor a report longer


class BoardUnreachable(Exception):
    """Redis could not be read; the message names no address (a URL may carry a password)."""


class ProcessBoard:
    """The deployment's board in Redis: the hash ``<namespace>procs``."""

    def __init__(self, redis_url: str, namespace: str, *, cluster: bool = False) -> None:
        self.key = f"{namespace}procs"
        # a single key: any node of a cluster routes it by its slot
        self._redis: Any = redis_client(redis_url, _TIMEOUT_S, cluster=cluster)

    async def __aenter__(self) -> ProcessBoard:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        # A stopping process never waits on Redis longer than a request would (a redis-py client whose
        # command was cancelled mid-flight can leave its close waiting: seen as a shutdown hung 600 s).
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            async with asyncio.timeout(_TIMEOUT_S):
                await self._redis.aclose()

    @staticmethod
    def field(sample: ProcessSample) -> str:
        return f"{sample.host}:{sample.pid}"

    async def put(self, sample: ProcessSample) -> None:
        """Write ``sample`` as its process's field; RedisError or OSError when Redis cannot be reached."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.key, self.field(sample), orjson.dumps(dataclasses.asdict(sample)))
            pipe.expire(self.key, int(STALE_AFTER_S))
            await pipe.execute()

    async def remove(self, sample: ProcessSample) -> None:
        await self._redis.hdel(self.key, self.field(sample))

    async def read(self, now_ms: int | None = None) -> list[ProcessSample]:
        """Every process reported within :data:`STALE_AFTER_S` (at most :data:`MAX_PROCESSES`),
        sorted by role, host and pid; older fields are deleted. BoardUnreachable when Redis fails."""
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        fresh: list[ProcessSample] = []
        stale: list[str] = []
        try:
            seen = 0
            async for name, value in self._redis.hscan_iter(self.key, count=100):
                seen += 1
                if seen > MAX_PROCESSES:
                    break
                sample = _parse(value)
                if sample is None or now_ms - sample.at_ms > STALE_AFTER_S * 1000:
                    stale.append(name)
                else:
                    fresh.append(sample)
            if stale:
                await self._redis.hdel(self.key, *stale)
        except (RedisError, OSError) as exc:
            raise BoardUnreachable(f"the process board in Redis cannot be read ({type(exc).__name__})") from None
        return sorted(fresh, key=lambda s: (s.role, s.host, s.pid))


_FIELDS = {f.name for f in dataclasses.fields(ProcessSample)}


def _parse(value: bytes) -> ProcessSample | None:
    """A field's sample, or None for one this version cannot read (another version's, or damaged)."""
    try:
        body = orjson.loads(value)
        if not isinstance(body, dict) or set(body) != _FIELDS:
            return None
        return ProcessSample(**body)
    except (orjson.JSONDecodeError, TypeError):
        return None


async def _report(board: ProcessBoard, sampler: SelfSampler, every_s: float, latest: list[ProcessSample]) -> None:
    failing = False
    while True:
        sample = await asyncio.to_thread(sampler.sample)  # /proc reads: off the event loop
        latest[:] = [sample]
        try:
            await board.put(sample)
            if failing:
                log.info("the process board in Redis is reachable again")
            failing = False
        except (RedisError, OSError) as exc:
            if not failing:
                log.warning("cannot write this process's resources to Redis (%s); retrying", type(exc).__name__)
            failing = True
        await asyncio.sleep(every_s)


@asynccontextmanager
async def reporting(
    board: ProcessBoard, sampler: SelfSampler, every_s: float = REPORT_EVERY_S
) -> AsyncIterator[list[ProcessSample]]:
    """Report ``sampler``'s process to ``board`` every ``every_s`` while the block runs, then take its
    field off the board. Yields a list holding the latest sample (empty until the first one)."""
    latest: list[ProcessSample] = []
    task = asyncio.create_task(_report(board, sampler, every_s, latest))
    try:
        yield latest
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=_TIMEOUT_S)  # cancelled mid-command, it must not hold the stop
        if latest:
            with contextlib.suppress(TimeoutError, RedisError, OSError):
                async with asyncio.timeout(_TIMEOUT_S):
                    await board.remove(latest[0])
