"""Per-key rate limits: token buckets in Redis, shared by every API process, with an in-process
bucket while Redis cannot be reached.

A bucket holds up to ``burst`` tokens and gains ``rate_per_s`` a second; a request takes one token or
is refused with the seconds until one is back. One Lua script reads, refills, takes and writes a
bucket atomically on Redis's own clock (API processes on several hosts agree on time through it).
When Redis fails, the limiter says so once in the log, counts in this process alone, and tries Redis
again every :data:`REDIS_RETRY_S` seconds; it says so again when Redis is back.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from schemas.redisclient import Outage, redis_client

__all__ = ["REDIS_RETRY_S", "Budget", "RateLimiter"]

log = logging.getLogger("perfpulse.api.ratelimit")

REDIS_RETRY_S = 5.0  # while Redis is down, how often one request tries it again
_REDIS_TIMEOUT_S = 0.5  # a slow Redis must not hold requests: past this the local bucket answers

# KEYS[1]: the bucket; ARGV: rate per second, burst. Returns {taken (1/0), ms until a token is back}.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local taken = 0
local wait = 0
if tokens >= 1 then
    tokens = tokens - 1
    taken = 1
else
    wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {taken, wait}
"""


@dataclass(frozen=True)
class Budget:
    """One kind of request's allowance per key."""

    rate_per_s: float  # tokens gained per second; 0: unlimited
    burst: int  # most tokens a bucket holds (requests in a burst)

    @property
    def unlimited(self) -> bool:
        return self.rate_per_s <= 0


class _LocalBuckets:
    """The same buckets in this process's memory (one entry per budget and key id: bounded by the keys)."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}  # bucket -> (tokens, monotonic seconds)

    def take(self, bucket: str, budget: Budget) -> float:
        """0 when a token was taken, else the seconds until one is back."""
        now = time.monotonic()
        tokens, at = self._state.get(bucket, (float(budget.burst), now))
        tokens = min(float(budget.burst), tokens + (now - at) * budget.rate_per_s)
        if tokens >= 1:
            self._state[bucket] = (tokens - 1, now)
            return 0.0
        self._state[bucket] = (tokens, now)
        return (1 - tokens) / budget.rate_per_s


class RateLimiter:
    """Token buckets per (budget name, key id). ``namespace`` prefixes the Redis keys, so deployments
    sharing a Redis keep their buckets apart."""

    def __init__(self, redis_url: str, budgets: dict[str, Budget], namespace: str = "perfpulse.") -> None:
        self.budgets = budgets
        self._namespace = namespace
        self._redis: Any = redis_client(redis_url, _REDIS_TIMEOUT_S)
        self._script: Any = self._redis.register_script(_TAKE)
        self._local = _LocalBuckets()
        self._outage = Outage(
            log,
            "rate limits",
            "counting in this process until it is back",
            "rate limits are shared again",
            REDIS_RETRY_S,
        )

    async def take(self, budget_name: str, key_id: str) -> float | None:
        """None when the request may go on; otherwise the whole seconds (at least 1) until it may retry."""
        budget = self.budgets[budget_name]
        if budget.unlimited:
            return None
        bucket = f"{self._namespace}ratelimit:{budget_name}:{key_id}"
        wait_s = await self._take_shared(bucket, budget)
        if wait_s is None:
            wait_s = self._local.take(bucket, budget)
        return None if wait_s <= 0 else float(max(1, math.ceil(wait_s)))

    async def _take_shared(self, bucket: str, budget: Budget) -> float | None:
        """The bucket in Redis: 0 or the seconds to wait; None when Redis cannot answer now."""
        if self._outage.skipping():
            return None
        try:
            taken, wait_ms = await self._script(keys=[bucket], args=[budget.rate_per_s, budget.burst])
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return None
        self._outage.answered()
        return 0.0 if int(taken) else int(wait_ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose()
