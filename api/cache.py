"""The query cache: answers of ``GET /api/v1/query`` (and each query of a batch) cut into parts at
aligned boundaries, kept in L1 (this process, api/l1cache.py) and, once settled, L2 (Redis,
api/l2cache.py).

Parts: a range is first moved to window boundaries (``start`` and ``end`` rounded up to a multiple
of the window: the same windows start inside), so requests a few milliseconds apart share their
parts. A query with a step is cut at multiples of :data:`BLOCK_BUCKETS` steps (epoch-aligned, so
every query of that step shares them), inside the block the settle horizon is in at multiples of
:data:`SUB_BLOCK_BUCKETS` steps, and at the last step boundary before the settle horizon (its
windows emitted and stored; the horizon is taken at the last window boundary, so it moves when the
open edge's end does and a range reaching now changes its parts once per window). A query without
a step is one bucket over the whole range, one part.
Settled parts are kept in L1 and L2; the open edge after the horizon in L1 only, until a window it
holds is stored (the sink's message drops it) and at most :data:`OPEN_TTL_S` (a bound on what a lost
message could cost): so under load the open edge is read from ClickHouse about once per stored
window and query, not once per request, and new windows show as soon as the sink stores them (to
the request that reads them; see stand-ins next).
Consecutive parts not found in a cache are read in one ClickHouse query, and identical reads running
at once are one read (request coalescing). While a read of parts a stored window dropped runs, other
requests for them get the parts it dropped instead of waiting (:data:`STALE_TTL_S` at most after the
drop): an answer is at most one read older than its request, as one joining a read begun earlier
already was, and under load only the request that began the read waits for it, not every poller.
A whole answer is kept too, for the rest of its window period while no stored window is heard (at
most :data:`OPEN_TTL_S`): a repeated request costs one lookup instead of one per part and a merge.

Staleness: the sink publishes every (metric, service, window) it stored, late corrections
included (perfpulse/storedfeed.py); its publisher drops the L2 parts those touch
(:func:`api.l2cache.drop_cells`) and every API process drops its L1 parts on hearing it
(:meth:`QueryCache.listen`). A read that ran while such a message came stores nothing of the cells
it touches (L1: the windows heard meanwhile are checked against each part; L2: any drop of the
metric's cells meanwhile refuses the write, api/l2cache.py). While
this process cannot hear the channel (Redis down), L1 keeps answers only :data:`UNHEARD_TTL_S`
seconds and is emptied when it hears again (it may have missed messages).

Keys: the validated, normalised query (services sorted and deduplicated, labels sorted) and the
part's range; never a raw header or parameter. Answers do not differ by API key scope (every read
key reads all data), so the scope is not part of the key.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from fastapi import Request
from redis.exceptions import RedisError

from api.bodies import Bodies
from api.cachecell import Cell
from api.cachemetrics import (
    CACHE_BYTES,
    CACHE_COALESCED,
    CACHE_EVICTIONS,
    CACHE_HITS,
    CACHE_INVALIDATIONS,
    CACHE_MISSES,
)
from api.l1cache import L1Cache
from api.l2cache import L2Cache
from api.params import window_bounds
from api.ttlcache import POLL_STALE_S, POLL_TTL_S, TtlCache
from schemas.events import StoredWindow, decode_stored

__all__ = [
    "BLOCK_BUCKETS",
    "OPEN_TTL_S",
    "STALE_TTL_S",
    "SUB_BLOCK_BUCKETS",
    "TRACE_ENTRIES",
    "TRACE_TTL_S",
    "UNHEARD_TTL_S",
    "Answer",
    "CacheConfig",
    "Part",
    "QueryCache",
    "QuerySpec",
    "query_cache",
]

log = logging.getLogger("perfpulse.api.cache")

BLOCK_BUCKETS = 60  # buckets per cached block: 10 min of 10 s steps, an hour of 1 min steps
# Buckets per sub-block, the cuts inside the block the settled edge is in: as the edge moves a step,
# only the sub-block it is in is read again, not all of the block before it (up to an hour of 1 min
# steps, read again every minute). A block once whole is read once more, as a block.
SUB_BLOCK_BUCKETS = 10
UNHEARD_TTL_S = 2.0  # L1 lifetime of an answer while invalidations cannot be heard
OPEN_TTL_S = 10.0  # L1 lifetime of an open edge's answer (dropped as soon as a window of it is stored)
STALE_TTL_S = 5.0  # how long after a drop its parts may stand in while their read runs
# A trace's answer while stored spans are heard: dropped as soon as the sink stores a span of the
# trace (their trace ids come with the stored windows), so a trace still receiving spans is not stale;
# without the channel an answer is kept POLL_TTL_S, as every polled read.
TRACE_TTL_S = 300.0
TRACE_ENTRIES = 256  # trace answers kept at most (each up to storage/traces.py's span and byte bounds)
_RECENT_WINDOWS = 10_000  # stored windows remembered, so a read that ran meanwhile knows if its cell changed
_ANSWERS = 4_096  # whole answers kept for their window period (a hit skips planning, lookups and merging)
_BODIES_BYTES = 16 * 1024 * 1024  # rendered answers kept (api/bodies.py)
_LISTEN_RETRY_S = 2.0  # while the channel cannot be heard, how often to subscribe again


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A validated query without its range, normalised: what its answers are keyed on."""

    metric: str
    services: tuple[str, ...]  # sorted, distinct; empty: every service
    stats: tuple[str, ...]  # in the order asked (the answer's fields follow it)
    group_by: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]  # label filters, sorted by name
    step_ms: int | None  # bucket size; None: one bucket over the range

    def key(self, start_ms: int, end_ms: int) -> str:
        fields = [self.metric, self.services, self.stats, self.group_by, self.labels, self.step_ms, start_ms, end_ms]
        return hashlib.blake2b(orjson.dumps(fields), digest_size=16).hexdigest()

    def cell(self, start_ms: int, end_ms: int) -> Cell:
        return Cell(self.metric, self.services, start_ms, end_ms)


@dataclass(slots=True)
class Part:
    """The answer of one range: series as the API answers them (``{"group", "points"}``, sorted by
    group), and whether the metric is a counter there."""

    series: list[dict[str, Any]]
    counter: bool = False

    def encode(self) -> bytes:
        return orjson.dumps({"series": self.series, "counter": self.counter})

    @classmethod
    def decode(cls, raw: bytes) -> Part:
        body = orjson.loads(raw)
        return cls(body["series"], bool(body["counter"]))


Compute = Callable[[int, int], Coroutine[Any, Any, Part]]  # the answer of [start_ms, end_ms) from ClickHouse
_Kept = tuple[bytes, Part]  # an L1 entry: the part encoded (its size, what L2 holds) and decoded (what a hit uses)


@dataclass(frozen=True, slots=True)
class _Range:
    start_ms: int
    end_ms: int
    l1_ttl_s: float  # L1 lifetime, at most (an invalidation drops it sooner)
    l2_ttl_s: float | None  # L2 lifetime; None: not kept in L2 (the open edge)


_Validity = tuple[tuple[int, int], int, float]  # (epoch, windows heard), window period, monotonic deadline


@dataclass(slots=True)
class Answer:
    """A query's answer and where its time went."""

    series: list[dict[str, Any]]
    counter: bool  # the metric is a counter in some part of the range
    settled: bool  # the whole range ended before the settle horizon (a cacheable HTTP answer)
    timing_ms: dict[str, float] = field(default_factory=dict)  # Server-Timing: cache lookups, ClickHouse
    parts: tuple[Part, ...] = ()  # what ``series`` was merged from: the same objects, the same answer
    kept: _Validity | None = None  # while QueryCache.current(kept), this answer is still the answer


@dataclass(frozen=True)
class CacheConfig:
    l1_bytes: int  # L1 bound, bytes; 0: no L1 (no parts, no whole answers kept in this process)
    l1_ttl_s: float  # L1 lifetime of an answer
    blocks_ttl_s: float  # L2 lifetime of a closed block of a stepped query
    ranges_ttl_s: float  # L2 lifetime of another settled part (a query without step, a ragged end)
    settle_ms: int  # a window is settled this long after its start (window + grace + the sink's flush)
    window_ms: int  # the stream stage's window: every stored window starts at a multiple of it


class QueryCache:
    """L1 and L2 over the answers of one deployment; ``l2`` None: L1 alone."""

    def __init__(self, config: CacheConfig, l2: L2Cache | None) -> None:
        self.config = config
        self.l1 = L1Cache[_Kept](config.l1_bytes, size_of=lambda kept: len(kept[0]))
        self.l2 = l2
        self.hearing = False  # subscribed to the stored-windows channel now
        self._epoch = 0  # moves when invalidations may have been missed
        self._windows_heard = 0  # stored windows heard so far
        self._recent: collections.deque[tuple[int, StoredWindow]] = collections.deque(maxlen=_RECENT_WINDOWS)
        self._running: dict[tuple[QuerySpec, int, int], asyncio.Task[Part]] = {}
        self.bodies = Bodies(_BODIES_BYTES)  # rendered answers, by query and range (api/query.py)
        # whole answers by query and range: valid for the window period and heard stamp they were made in
        self._answers: dict[tuple[QuerySpec, int, int], tuple[_Validity, Answer]] = {}
        # parts dropped by stored windows, by L1 key, to stand in while they are read again: for
        # STALE_TTL_S, within as many bytes as L1 may hold (a part read again is found in L1 first)
        self.stale = L1Cache[_Kept](config.l1_bytes, size_of=lambda kept: len(kept[0]))
        self.traces = TtlCache[Any](POLL_TTL_S, TRACE_ENTRIES, stale_s=POLL_STALE_S)  # trace answers, by id

    @property
    def trace_ttl_s(self) -> float:
        """How long a trace's answer is kept now: :data:`TRACE_TTL_S` while stored spans are heard."""
        return TRACE_TTL_S if self.hearing else POLL_TTL_S

    async def answer(self, spec: QuerySpec, start_ms: int, end_ms: int, compute: Compute) -> Answer:
        """The answer of ``spec`` over ``[start_ms, end_ms)``, from the caches where they hold it."""
        # The horizon moves at window boundaries, when the open edge's end (rounded up to a window)
        # moves too: the parts of a range reaching now change once per window, not twice.
        window = self.config.window_ms
        period = time.time_ns() // 1_000_000 // window
        horizon = period * window - self.config.settle_ms
        stamp = (self._epoch, self._windows_heard)
        began = time.perf_counter()
        key = (spec, start_ms, end_ms)
        if (kept := self.kept(spec, start_ms, end_ms)) is not None:
            return kept
        ranges = self._plan(spec, start_ms, end_ms, horizon)
        found, l2_gen = await self._lookup(spec, ranges)
        looked = time.perf_counter()
        missing = [i for i, part in enumerate(found) if part is None]
        runs = []  # the runs to read (or join the read of); the others are stood in for meanwhile
        for run in _runs(missing):
            stale = self._standing_in(spec, [ranges[i] for i in run])
            if stale is None:
                runs.append(run)
                continue
            for i, part in zip(run, stale, strict=True):
                found[i] = part
        served_stale = any(found[i] is not None for i in missing)
        computed = await asyncio.gather(
            *(self._coalesced(spec, ranges[run[0]].start_ms, ranges[run[-1]].end_ms, compute) for run in runs)
        )
        read = time.perf_counter()
        stores = []
        for run, (whole, joined) in zip(runs, computed, strict=True):
            for i, part in zip(run, _split(whole, [ranges[i] for i in run]), strict=True):
                found[i] = part
                if not joined:  # a joined read may have begun before this request's stamp: its owner stores
                    stores.append(self._store(spec, ranges[i], part, stamp, l2_gen))
        await asyncio.gather(*stores)  # one Redis round trip's wait for all the parts
        parts = [p for p in found if p is not None]
        timing = {"cache": (looked - began) * 1000}
        if runs:
            timing["db"] = (read - looked) * 1000
        settled = end_ms <= horizon and not served_stale  # a stand-in is not an answer to keep anywhere
        answer = Answer(_merge(parts), any(p.counter for p in parts), settled, timing, tuple(parts))
        joined_any = any(joined for _, joined in computed)  # a joined read may predate this stamp
        if (
            self.config.l1_bytes  # no L1: nothing of an answer is kept in this process
            and self.hearing
            and not joined_any
            and not served_stale
            and stamp == (self._epoch, self._windows_heard)
        ):
            answer.kept = (stamp, period, time.monotonic() + OPEN_TTL_S)
            self._keep_answer(key, answer.kept, answer)
        return answer

    def kept(self, spec: QuerySpec, start_ms: int, end_ms: int) -> Answer | None:
        """The whole answer of ``spec`` over ``[start_ms, end_ms)`` kept while :meth:`current`, found
        without waiting for anything (None: not kept, or no longer the answer)."""
        began = time.perf_counter()
        kept = self._answers.get((spec, start_ms, end_ms))
        if kept is None or not self.current(kept[0]):
            return None
        same = kept[1]
        CACHE_HITS.labels("l1").inc(len(same.parts))
        timing = {"cache": (time.perf_counter() - began) * 1000}
        return Answer(same.series, same.counter, same.settled, timing, same.parts, kept[0])

    def _standing_in(self, spec: QuerySpec, run: list[_Range]) -> list[Part] | None:
        """The parts a stored window dropped for ``run`` (consecutive ranges) while a read of them
        runs, so the caller need not wait for it; None: no read runs, or a part is not at hand."""
        if (spec, run[0].start_ms, run[-1].end_ms) not in self._running:
            return None
        kept = [self.stale.get(spec.key(r.start_ms, r.end_ms)) for r in run]
        if any(entry is None for entry in kept):
            return None
        CACHE_HITS.labels("stale").inc(len(run))
        return [entry[1] for entry in kept if entry is not None]

    def current(self, kept: _Validity) -> bool:
        """Whether an answer kept with ``kept`` is still the answer: the same window period, no stored
        window heard since, hearing, and at most :data:`OPEN_TTL_S` (the open edge's L1 bound) old."""
        stamp, period, deadline = kept
        return (
            self.hearing
            and stamp == (self._epoch, self._windows_heard)
            and time.time_ns() // 1_000_000 // self.config.window_ms == period
            and time.monotonic() < deadline
        )

    def _keep_answer(self, key: tuple[QuerySpec, int, int], kept: _Validity, answer: Answer) -> None:
        """Keep ``answer`` while :meth:`current`; the oldest go past :data:`_ANSWERS`."""
        if len(self._answers) >= _ANSWERS:
            del self._answers[next(iter(self._answers))]
        self._answers[key] = (kept, answer)

    def _plan(self, spec: QuerySpec, start_ms: int, end_ms: int, horizon: int) -> list[_Range]:
        """The parts of ``[start_ms, end_ms)``: its bounds moved up to window boundaries (no stored
        window starts in between, so the answer is the same), cut at blocks, at sub-blocks in the
        block the settled edge is in, and at the settled edge."""
        start_ms, end_ms = window_bounds(start_ms, end_ms, self.config.window_ms)
        if start_ms >= end_ms:
            return []
        cuts = {start_ms, end_ms}
        if spec.step_ms is not None:
            block, sub_block = spec.step_ms * BLOCK_BUCKETS, spec.step_ms * SUB_BLOCK_BUCKETS
            cuts.update(range(-(-start_ms // block) * block, end_ms, block))
            settled_end = min(max(horizon // spec.step_ms * spec.step_ms, start_ms), end_ms)
            cuts.add(settled_end)
            first_sub = max(settled_end // block * block, -(-start_ms // sub_block) * sub_block)
            cuts.update(range(first_sub, settled_end, sub_block))
        bounds = sorted(cuts)
        return [self._range(spec, lo, hi, horizon) for lo, hi in itertools.pairwise(bounds)]

    def _range(self, spec: QuerySpec, start_ms: int, end_ms: int, horizon: int) -> _Range:
        if end_ms > horizon:
            return _Range(start_ms, end_ms, min(OPEN_TTL_S, self.config.l1_ttl_s), None)
        whole_block = spec.step_ms is not None and end_ms - start_ms == spec.step_ms * BLOCK_BUCKETS
        l2_ttl_s = self.config.blocks_ttl_s if whole_block else self.config.ranges_ttl_s
        return _Range(start_ms, end_ms, min(l2_ttl_s, self.config.l1_ttl_s), l2_ttl_s)

    async def _lookup(self, spec: QuerySpec, ranges: list[_Range]) -> tuple[list[Part | None], str | None]:
        """Each cacheable range's part from L1, then L2; the L2 ``gen`` to write with (None: no L2)."""
        found: list[Part | None] = [None] * len(ranges)
        for i, r in enumerate(ranges):
            kept = self.l1.get(spec.key(r.start_ms, r.end_ms))
            if kept is not None:
                found[i] = kept[1]
                CACHE_HITS.labels("l1").inc()
        CACHE_MISSES.labels("l1").inc(found.count(None))
        wanted = [i for i, r in enumerate(ranges) if r.l2_ttl_s is not None and found[i] is None]
        if not wanted or self.l2 is None:
            return found, None
        stamp = (self._epoch, self._windows_heard)
        reply = await self.l2.get_many(spec.metric, [spec.key(ranges[i].start_ms, ranges[i].end_ms) for i in wanted])
        if reply is None:
            return found, None
        values, gen = reply
        for i, raw in zip(wanted, values, strict=True):
            if raw is None:
                CACHE_MISSES.labels("l2").inc()
                continue
            CACHE_HITS.labels("l2").inc()
            part = found[i] = Part.decode(raw)
            self._keep_l1(spec, ranges[i], (raw, part), stamp)
        return found, gen

    async def _store(self, spec: QuerySpec, r: _Range, part: Part, stamp: tuple[int, int], l2_gen: str | None) -> None:
        raw = part.encode()
        self._keep_l1(spec, r, (raw, part), stamp)
        if self.l2 is not None and l2_gen is not None and r.l2_ttl_s is not None:
            await self.l2.put(spec.key(r.start_ms, r.end_ms), raw, spec.cell(r.start_ms, r.end_ms), r.l2_ttl_s, l2_gen)

    def _keep_l1(self, spec: QuerySpec, r: _Range, kept: _Kept, stamp: tuple[int, int]) -> None:
        """Keep ``kept`` in L1 unless a window heard since ``stamp`` was taken touches its cell."""
        if self._changed_since(stamp, spec.cell(r.start_ms, r.end_ms)):
            return
        ttl_s = r.l1_ttl_s if self.hearing else min(r.l1_ttl_s, UNHEARD_TTL_S)
        evicted = self.l1.evictions
        key = spec.key(r.start_ms, r.end_ms)
        self.stale.discard(key)  # read again: the part it stood in for is the past
        self.l1.put(key, kept, spec.cell(r.start_ms, r.end_ms), ttl_s)
        CACHE_EVICTIONS.inc(self.l1.evictions - evicted)
        CACHE_BYTES.set(self.l1.bytes)

    async def _coalesced(self, spec: QuerySpec, start_ms: int, end_ms: int, compute: Compute) -> tuple[Part, bool]:
        """``compute(start_ms, end_ms)``, or the same read already running (then True: joined). It runs
        as its own task, so a caller that goes away does not cancel it for the others."""
        key = (spec, start_ms, end_ms)
        task = self._running.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.create_task(compute(start_ms, end_ms))
            self._running[key] = task
            task.add_done_callback(functools.partial(self._finished, key))
        else:
            CACHE_COALESCED.inc()
        return await asyncio.shield(task), joined

    def _changed_since(self, stamp: tuple[int, int], cell: Cell) -> bool:
        """Whether ``cell`` may have changed since ``stamp``: a window heard since touches it, or what
        was heard since is no longer all in the recent log, or invalidations may have been missed."""
        epoch, heard = stamp
        if epoch != self._epoch:
            return True
        if heard == self._windows_heard:
            return False
        if not self._recent or self._recent[0][0] > heard:
            return True
        for seq, window in reversed(self._recent):
            if seq < heard:
                return False
            if cell.touched_by(window):
                return True
        return False

    def _finished(self, key: tuple[QuerySpec, int, int], task: asyncio.Task[Part]) -> None:
        """Forget a finished read; its error is taken here too, so one nobody awaits any more (every
        caller went away) is not reported as never retrieved: the callers that stayed got it."""
        self._running.pop(key, None)
        if not task.cancelled():
            task.exception()

    def invalidate(self, windows: list[StoredWindow]) -> int:
        """Drop the L1 answers ``windows`` touch; reads of their metrics running now store nothing."""
        for window in windows:
            self._recent.append((self._windows_heard, window))
            self._windows_heard += 1
        dropped = self.l1.drop(windows)
        for key, (kept, cell) in dropped.items():
            self.stale.put(key, kept, cell, STALE_TTL_S)
        self._answers.clear()  # each was made before these windows: none is served again
        CACHE_INVALIDATIONS.labels("l1").inc(len(dropped))
        CACHE_BYTES.set(self.l1.bytes)
        return len(dropped)

    def _missed(self) -> None:
        """Invalidations may have been missed: nothing in L1 or being read now can be trusted."""
        self._epoch += 1
        self.l1.clear()
        self._answers.clear()
        self.stale.clear()
        self.traces.clear()
        CACHE_BYTES.set(0)

    async def listen(self, redis_url: str, channel: str, ready: asyncio.Event | None = None) -> None:
        """Hear ``channel`` until cancelled, dropping what each message touches; subscribe again
        every :data:`_LISTEN_RETRY_S` seconds while Redis cannot be reached (logged once).
        ``ready`` is set each time the subscription is confirmed. On a Redis Cluster ``redis_url`` is
        one node: the cluster passes every published message to the subscribers of each node."""
        failing = False
        while True:
            client: Any = aioredis.from_url(redis_url, socket_connect_timeout=1.0, health_check_interval=5)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(channel)
                self._missed()
                self.hearing = True
                if failing:
                    log.info("hearing stored windows again: the L1 cache keeps answers again")
                    failing = False
                async for message in pubsub.listen():
                    if message["type"] == "subscribe" and ready is not None:
                        ready.set()
                    elif message["type"] == "message":
                        self._heard(message["data"])
            except (RedisError, OSError) as exc:
                if not failing:
                    log.warning("cannot hear stored windows on Redis: %s; L1 keeps answers %.0f s", exc, UNHEARD_TTL_S)
                    failing = True
            finally:
                self.hearing = False
                self._missed()
                await client.aclose()
            await asyncio.sleep(_LISTEN_RETRY_S)

    def _heard(self, data: bytes) -> None:
        try:
            stored = decode_stored(data)
        except ValueError as exc:
            log.warning("ignoring a message on the stored-windows channel: %s", exc)
            return
        if stored.windows:
            self.invalidate(stored.windows)
        if stored.traces:
            CACHE_INVALIDATIONS.labels("traces").inc(self.traces.drop(stored.traces))

    async def close(self) -> None:
        if self.l2 is not None:
            await self.l2.close()


def _runs(indexes: list[int]) -> list[list[int]]:
    """Consecutive indexes grouped: [0, 1, 3] -> [[0, 1], [3]]."""
    runs: list[list[int]] = []
    for i in indexes:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _split(whole: Part, ranges: list[_Range]) -> list[Part]:
    """The parts of ``ranges`` (consecutive) in ``whole``, their answer read at once: each point goes
    to the first range ending after its bucket start (buckets never straddle a block boundary)."""
    parts = [Part([], whole.counter) for _ in ranges]
    for series in whole.series:
        split: list[list[dict[str, Any]]] = [[] for _ in ranges]
        r = 0
        for point in series["points"]:
            while r < len(ranges) - 1 and point["t"] >= ranges[r].end_ms:
                r += 1
            split[r].append(point)
        for part, points in zip(parts, split, strict=True):
            if points:
                part.series.append({"group": series["group"], "points": points})
    return parts


def _merge(parts: list[Part]) -> list[dict[str, Any]]:
    """The series of consecutive parts joined, sorted by group as ClickHouse sorts them (bytewise)."""
    series: dict[tuple[str, ...], dict[str, Any]] = {}
    for part in parts:
        for s in part.series:
            entry = series.setdefault(tuple(s["group"].values()), {"group": s["group"], "points": []})
            entry["points"].extend(s["points"])
    return [series[key] for key in sorted(series)]


async def query_cache(request: Request) -> QueryCache:
    """FastAPI dependency: the cache the composition root installed on ``app.state.cache``."""
    cache: QueryCache = request.app.state.cache
    return cache
