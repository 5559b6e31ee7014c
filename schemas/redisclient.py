"""Redis clients of every stage: a bounded pool whose callers wait for a free connection (here, in
the shared contract, because every stage makes them, as ``kafka_security`` for Kafka's clients).

Since redis-py 8.0 a client's pool holds at most 100 connections (it was 2**31) and refuses the 101st
concurrent command at once (``MaxConnectionsError``, "Too many connections"; the change is named in
hopeit-git/hopeit.engine#222). Under 500 concurrent requests the L2 cache and the rate limiter took
that refusal for Redis being down, and went on without Redis for seconds (seen in the load test's
peak scenario). Here a single Redis gets a ``BlockingConnectionPool``: a command
past the 100th waits for a connection to come back, up to the client's timeout, so the connection
count stays bounded and a busy moment is not an outage. redis-py's cluster client has no waiting
pool; :func:`busy` tells its refusal apart from an unreachable node.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import MaxConnectionsError

__all__ = ["MAX_CONNECTIONS", "busy", "redis_client"]

MAX_CONNECTIONS = 100  # per client (per node of a cluster); Redis answers each in well under 1 ms


def redis_client(url: str, timeout_s: float, *, cluster: bool = False) -> Any:
    """A client of the Redis at ``url`` (``cluster``: a node of a Redis Cluster) whose commands,
    connects and waits for a free connection each give up after ``timeout_s`` seconds."""
    if cluster:
        return RedisCluster.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, max_connections=MAX_CONNECTIONS
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )
    return aioredis.Redis.from_pool(pool)


def busy(exc: BaseException) -> bool:
    """Whether ``exc`` is this process having no free connection (a cluster node's pool full), not
    Redis failing: the caller skips Redis for that one command instead of treating it as down."""
    return isinstance(exc, MaxConnectionsError)
