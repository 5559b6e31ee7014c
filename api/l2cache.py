"""The L2 cache: answers in Redis, shared by every API process, compressed, each with the time to
live of its query class; and the one function that drops the cells a stored window touches.

Values are zlib-compressed and, with a cache key set, sealed with AES-256-GCM (api/cacheseal.py); a
value that does not open or decompress is a miss.

Layout per metric (one hash tag per metric, so a Redis Cluster keeps a metric's keys on one node
and the scripts below run there): ``<ns>qc:{<metric hash>}:<key>`` an answer (zlib),
``...:idx`` a sorted set of the metric's answers (member ``<key>|<start>|<end>|<services JSON>``,
score the cell's end), ``...:gen`` a counter the sink's publisher increments before it drops cells.

Why the counter: an API process that read ClickHouse before an insert and writes its answer after
the insert's cells were dropped would keep a stale answer for hours. It reads ``gen`` with its
lookup (before it reads ClickHouse) and the write script stores nothing when ``gen`` moved since.

Redis down or slow (past :data:`TIMEOUT_S`): lookups miss and writes are skipped; it is logged once,
Redis is tried again every :data:`RETRY_S` seconds and its return is logged.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections import defaultdict
from typing import Any

import orjson
from redis.exceptions import RedisError

from api.cachecell import Cell
from api.cacheseal import Sealer
from schemas.events import StoredWindow
from schemas.redisclient import Outage, redis_client

__all__ = ["MAX_INDEXED", "RETRY_S", "TIMEOUT_S", "L2Cache", "drop_cells"]

log = logging.getLogger("perfpulse.api.cache")

TIMEOUT_S = 0.25  # a Redis slower than this is treated as down: ClickHouse answers in about that time
RETRY_S = 5.0  # while Redis is down, how often a request tries it again
MAX_INDEXED = 20_000  # answers kept per metric; past it the oldest cells are dropped with their answers

# KEYS: gen, idx, entry. ARGV: gen read at lookup, value, ttl ms, member, score, MAX_INDEXED, entry
# key prefix. Stores nothing (returns 0) when gen moved; trims the index with its answers.
_PUT = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if over > 0 then
    for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
        redis.call('DEL', ARGV[7] .. string.match(member, '^[^|]+'))
    end
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return 1
"""


def _prefix(namespace: str, metric: str) -> str:
    tag = hashlib.blake2b(metric.encode(), digest_size=8).hexdigest()
    return f"{namespace}qc:{{{tag}}}:"


def _member(key: str, cell: Cell) -> str:
    return f"{key}|{cell.start_ms}|{cell.end_ms}|{orjson.dumps(list(cell.services)).decode()}"


def _touched(member: str, windows: list[StoredWindow]) -> bool:
    _, start, end, services = member.split("|", 3)
    cell = Cell(windows[0].metric, tuple(orjson.loads(services)), int(start), int(end))
    return any(cell.touched_by(w) for w in windows)


async def drop_cells(redis: Any, windows: list[StoredWindow], *, namespace: str) -> int:
    """Drop the L2 answers whose cells ``windows`` touch (the sink's publisher runs it before it
    publishes them); returns how many. Raises RedisError / OSError when Redis fails."""
    by_metric: dict[str, list[StoredWindow]] = defaultdict(list)
    for window in windows:
        by_metric[window.metric].append(window)
    metrics = sorted(by_metric)
    async with redis.pipeline(transaction=False) as pipe:
        for metric in metrics:
            prefix = _prefix(namespace, metric)
            pipe.incr(f"{prefix}gen")  # first: a lookup from before this insert can no longer write
            pipe.zrangebyscore(f"{prefix}idx", f"({min(w.start_ms for w in by_metric[metric])}", "+inf")
        replies = await pipe.execute()
    dropped = 0
    async with redis.pipeline(transaction=False) as pipe:
        for i, metric in enumerate(metrics):
            prefix = _prefix(namespace, metric)
            members = [m.decode() for m in replies[2 * i + 1]]
            touched = [m for m in members if _touched(m, by_metric[metric])]
            if touched:
                pipe.delete(*(prefix + m.split("|", 1)[0] for m in touched))
                pipe.zrem(f"{prefix}idx", *touched)
                dropped += len(touched)
        await pipe.execute()
    return dropped


class L2Cache:
    """Answers of this deployment (``namespace``: its topic prefix) in the Redis at ``redis_url``;
    ``cluster``: the URL names a node of a Redis Cluster (keys are routed by slot); ``sealer``: values
    are encrypted with it (api/cacheseal.py)."""

    def __init__(self, redis_url: str, namespace: str, *, cluster: bool = False, sealer: Sealer | None = None) -> None:
        self.namespace = namespace
        self._sealer = sealer
        self._redis: Any = redis_client(redis_url, TIMEOUT_S, cluster=cluster)
        self._put: Any = self._redis.register_script(_PUT)
        self._outage = Outage(
            log, "the L2 cache", "answering from L1 and ClickHouse", "the L2 cache answers again", RETRY_S
        )

    async def get_many(self, metric: str, keys: list[str]) -> tuple[list[bytes | None], str] | None:
        """The answers of ``keys`` (None where absent) and the metric's ``gen`` to write with; None
        when Redis cannot answer now."""
        if self._outage.skipping():
            return None
        prefix = _prefix(self.namespace, metric)
        try:
            reply = await self._redis.mget([f"{prefix}gen", *(prefix + k for k in keys)])
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return None
        self._outage.answered()
        gen = reply[0].decode() if reply[0] is not None else "0"
        return [
            self._unpack(v, prefix + k) if v is not None else None for k, v in zip(keys, reply[1:], strict=True)
        ], gen

    async def put(self, key: str, value: bytes, cell: Cell, ttl_s: float, gen: str) -> bool:
        """Store ``value`` unless the metric's ``gen`` moved since the lookup; whether it was stored."""
        if self._outage.down:
            return False
        prefix = _prefix(self.namespace, cell.metric)
        packed = self._pack(value, prefix + key)
        args = [gen, packed, int(ttl_s * 1000), _member(key, cell), cell.end_ms, MAX_INDEXED, prefix]
        try:
            stored = await self._put(keys=[f"{prefix}gen", f"{prefix}idx", prefix + key], args=args)
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return False
        return bool(stored)

    def _pack(self, value: bytes, redis_key: str) -> bytes:
        compressed = zlib.compress(value, 1)
        return compressed if self._sealer is None else self._sealer.seal(compressed, redis_key)

    def _unpack(self, raw: bytes, redis_key: str) -> bytes | None:
        """The value stored under ``redis_key``; None (a miss) when it does not open or decompress:
        written with another key or by something else."""
        opened = raw if self._sealer is None else self._sealer.open(raw, redis_key)
        if opened is None:
            return None
        try:
            return zlib.decompress(opened)
        except zlib.error:
            return None

    async def close(self) -> None:
        await self._redis.aclose()
