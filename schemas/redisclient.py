"""Redis clients of every stage: a bounded pool whose callers wait for a free connection (here, in
the shared contract, because every stage makes them, as ``kafka_security`` for Kafka's clients).

Since redis-py 8.0 a client's pool holds at most 100 connections (it was 2**31) and refuses the 101st
concurrent command at once (``MaxConnectionsError``, "Too many connections"; the change is named in
hopeit-git/hopeit.engine#222). Under 500 concurrent requests the L2 cache and the rate limiter took
that refusal for Redis being down, and went on without Redis for seconds (seen in the load test's
peak scenario). Here a single Redis gets a ``BlockingConnectionPool``: a command
past the 100th waits for a connection to come back, up to the client's timeout, so the connection
count stays bounded and a busy moment is not an outage. redis-py's cluster client has no waiting
pool; :func:`busy` tells its refusal apart from an unreachable node. :class:`Outage` is how each user
of Redis that can go on without it (the L2 cache, rate limits, idempotency keys) tells it is down.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import MaxConnectionsError

__all__ = ["CONNECT_TIMEOUT_S", "MAX_CONNECTIONS", "Outage", "busy", "redis_client"]

MAX_CONNECTIONS = 100  # per client (per node of a cluster); Redis answers each in well under 1 ms
# A connect is given at least this long. A burst that opens the pool's 100 connections at once on a busy
# event loop took more than the L2 cache's 0.25 s for some of them (500 concurrent lookups while the
# test suite ran beside), and a timed-out connect counts as Redis being down for seconds. A Redis that
# is down refuses a connect at once; only an unreachable host costs this long, once per retry.
CONNECT_TIMEOUT_S = 1.0


def redis_client(url: str, timeout_s: float, *, cluster: bool = False) -> Any:
    """A client of the Redis at ``url`` (``cluster``: a node of a Redis Cluster) whose commands and
    waits for a free connection each give up after ``timeout_s`` seconds, its connects after
    :data:`CONNECT_TIMEOUT_S` or ``timeout_s``, the longer."""
    connect_s = max(timeout_s, CONNECT_TIMEOUT_S)
    if cluster:
        return RedisCluster.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=connect_s, max_connections=MAX_CONNECTIONS
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=connect_s,
    )
    return aioredis.Redis.from_pool(pool)


def busy(exc: BaseException) -> bool:
    """Whether ``exc`` is this process having no free connection (a cluster node's pool full), not
    Redis failing: the caller skips Redis for that one command instead of treating it as down."""
    return isinstance(exc, MaxConnectionsError)


class Outage:
    """Redis as one of its users sees it: after a failure it is skipped for ``retry_s`` seconds, then
    tried again. The fall is logged once ("cannot reach Redis for ``what``: the error; ``meanwhile``"),
    and so is the recovery ("Redis is back: ``back``"). A command refused for want of a free
    connection (:func:`busy`) is no outage: that one command goes without Redis."""

    def __init__(self, log: logging.Logger, what: str, meanwhile: str, back: str, retry_s: float) -> None:
        self._log = log
        self._what, self._meanwhile, self._back = what, meanwhile, back
        self._retry_s = retry_s
        self._until: float | None = None  # monotonic time of the next try while Redis is down

    @property
    def down(self) -> bool:
        """Whether the last command failed (until one succeeds again)."""
        return self._until is not None

    def skipping(self) -> bool:
        """Whether Redis is down and not to be tried again yet."""
        return self._until is not None and time.monotonic() < self._until

    def failed(self, exc: BaseException) -> None:
        """A command failed with ``exc``."""
        if busy(exc):
            return
        if self._until is None:
            self._log.warning("cannot reach Redis for %s: %s; %s", self._what, exc, self._meanwhile)
        self._until = time.monotonic() + self._retry_s

    def answered(self) -> None:
        """A command succeeded."""
        if self._until is not None:
            self._log.info("Redis is back: %s", self._back)
            self._until = None
