"""Publishes what the sink stored (schemas/events.py) on Redis pub/sub, so every API process hears
every sink: its caches drop the cells and traces that changed and its live feed pushes the cells' new
results.

The sink awaits :meth:`StoredFeed.publish` after each insert of window rows or spans; it only queues the
message and returns, so a slow or absent Redis never holds an insert. One task per process sends the
queue in order. While Redis cannot be reached the messages wait (at most
:data:`MAX_QUEUED` of them: the oldest are dropped and counted), the failure is logged once, and
the task tries again every :data:`RETRY_S` seconds until Redis is back (logged too).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from schemas.events import MAX_TRACES_PER_MESSAGE, StoredWindow, encode_stored
from schemas.redisclient import redis_client

__all__ = ["MAX_QUEUED", "RETRY_S", "StoredFeed"]

log = logging.getLogger("perfpulse.storedfeed")

MAX_QUEUED = 10_000  # messages (one per insert) kept while Redis is down; ~3 hours of 1 insert/s
RETRY_S = 2.0  # while Redis is down, how often the sender tries again
_REDIS_TIMEOUT_S = 1.0  # a send slower than this counts as Redis being down

# Run before each message is published (the L2 cache drops the cells in Redis itself, so a cell
# changed while no API process listens is still dropped); its failure counts as Redis being down.
BeforePublish = Callable[[Any, list[StoredWindow]], Awaitable[object]]


class StoredFeed:
    """The sink's ``on_stored`` listener: ``channel`` on the Redis at ``redis_url`` (``cluster``: a node
    of a Redis Cluster, which passes each message to the subscribers of every node)."""

    def __init__(
        self, redis_url: str, channel: str, before_publish: BeforePublish | None = None, *, cluster: bool = False
    ) -> None:
        self.channel = channel
        self.dropped = 0  # messages dropped because the queue was full while Redis was down
        self.published = 0  # messages Redis took
        self._redis: Any = redis_client(redis_url, _REDIS_TIMEOUT_S, cluster=cluster)
        self._before = before_publish
        self._queue: collections.deque[tuple[list[StoredWindow], list[str]]] = collections.deque()
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

    async def publish(self, windows: list[StoredWindow], traces: list[str]) -> None:
        """Queue one insert's cells, or its traces (:data:`~schemas.events.MAX_TRACES_PER_MESSAGE` a
        message), for publishing; returns at once."""
        for start in range(0, len(traces), MAX_TRACES_PER_MESSAGE):
            self._enqueue([], traces[start : start + MAX_TRACES_PER_MESSAGE])
        if windows:
            self._enqueue(windows, [])

    def _enqueue(self, windows: list[StoredWindow], traces: list[str]) -> None:
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("stored-windows queue full while Redis is down: %d messages dropped", self.dropped)
        self._queue.append((windows, traces))
        self._wake.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_all(), name="stored-feed")

    async def _send_all(self) -> None:
        down = False
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            message = self._queue[0]
            windows, traces = message
            try:
                if self._before is not None and windows:
                    await self._before(self._redis, windows)
                await self._redis.publish(self.channel, encode_stored(windows, time.time_ns() // 1_000_000, traces))
            except (RedisError, OSError) as exc:
                if not down:
                    log.warning("cannot publish stored windows on Redis: %s; retrying every %.0f s", exc, RETRY_S)
                    down = True
                await asyncio.sleep(RETRY_S)
                continue
            if down:
                log.info("Redis is back: stored windows are published again (%d waiting)", len(self._queue) - 1)
                down = False
            if self._queue and self._queue[0] is message:
                self._queue.popleft()
            self.published += 1

    async def close(self) -> None:
        """Stop sending (what is still queued is not sent) and close the connection."""
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        await self._redis.aclose()
