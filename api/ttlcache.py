"""A small in-process cache of computed answers: each kept ``ttl_s`` seconds, at most ``max_entries``.

For answers polled often by many clients (a load balancer asking every second): within ``ttl_s``
the same key is computed once, and concurrent requests for a key being computed wait for that one
computation instead of starting their own. A failed computation is not kept. Keys come from
validated requests; ``max_entries`` bounds the memory a client inventing keys can take (when full,
expired entries go first, then the oldest).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from fastapi import Request

from api.params import time_range, whole_seconds

__all__ = ["POLL_ENTRIES", "POLL_STALE_S", "POLL_TTL_S", "TtlCache", "app_ttl_cache", "ranged_answer"]

# Reads dashboards and load balancers poll (services, metrics, logs): kept a second, so any number
# of clients cost one storage read per second and question; for POLL_STALE_S more the kept answer is
# served while one new read runs, so no client waits for a read of a polled question. A trace by id
# is kept longer while its spans' storing can be heard (TRACE_TTL_S in api/cache.py).
POLL_TTL_S = 1.0
POLL_STALE_S = 10.0
POLL_ENTRIES = 1_024

V = TypeVar("V")
# The key part of a question asked without a range (its default span, ending now).
_DEFAULT_RANGE = "default range"


class TtlCache(Generic[V]):
    """Answers by key, each computed at most once per ``ttl_s`` (``clock``: seconds, monotonic).

    With ``stale_s``, an answer past ``ttl_s`` but younger than ``ttl_s + stale_s`` is still served
    while one computation of its key runs in the background (stale-while-revalidate); its result, when
    it succeeds, is the next answer. A failed refresh keeps the old answer until it is too old."""

    def __init__(
        self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic, *, stale_s: float = 0.0
    ) -> None:
        if ttl_s <= 0 or max_entries < 1 or stale_s < 0:
            raise ValueError(f"cannot build a cache of ttl {ttl_s!r} s, {max_entries!r} entries, stale {stale_s!r} s")
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self.max_entries = max_entries
        self._clock = clock
        # key -> (computed at, the ttl it was asked with, answer): a full cache first lets go of the
        # answers past their own ttl (a trace's 300 s, not the cache's 1 s)
        self._entries: dict[Hashable, tuple[float, float, asyncio.Future[V]]] = {}
        self._refreshing: dict[Hashable, asyncio.Future[V]] = {}  # key -> its background computation

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]], ttl_s: float | None = None) -> V:
        """The answer for ``key``: the one kept if computed less than ``ttl_s`` (default the cache's)
        ago, else ``compute()``'s."""
        now = self._clock()
        ttl = self.ttl_s if ttl_s is None else ttl_s
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] >= ttl and self._servable(entry, now, ttl):
            if key not in self._refreshing:
                self._refresh(key, compute, now, ttl)
            return entry[2].result()
        if entry is None or now - entry[0] >= ttl:
            self._make_room(now)
            entry = (now, ttl, asyncio.ensure_future(compute()))
            self._entries[key] = entry
        try:
            # shield: a waiter cancelled (its client gone) must not cancel the others' computation
            return await asyncio.shield(entry[2])
        except Exception:
            if self._entries.get(key) is entry:
                del self._entries[key]
            raise

    def _servable(self, entry: tuple[float, float, asyncio.Future[V]], now: float, ttl: float) -> bool:
        """Whether an answer past its ttl may still be served while a new one is computed."""
        at, _, answer = entry
        return now - at < ttl + self.stale_s and answer.done() and not answer.cancelled() and not answer.exception()

    def _refresh(self, key: Hashable, compute: Callable[[], Awaitable[V]], now: float, ttl: float) -> None:
        future = asyncio.ensure_future(compute())
        self._refreshing[key] = future

        def done(finished: asyncio.Future[V]) -> None:
            if self._refreshing.get(key) is not finished:
                return  # dropped (or cleared) while it ran: its answer may predate the change
            del self._refreshing[key]
            if not finished.cancelled() and finished.exception() is None and key in self._entries:
                self._entries[key] = (now, ttl, finished)

        future.add_done_callback(done)

    def drop(self, keys: Iterable[Hashable]) -> int:
        """Forget the answers of ``keys`` (their data changed), those being computed too: a
        computation running now still answers its waiters but is not kept. Returns how many were kept."""
        dropped = 0
        for key in keys:
            dropped += self._entries.pop(key, None) is not None
            self._refreshing.pop(key, None)
        return dropped

    def clear(self) -> None:
        """Forget every answer: the next request of each key computes it again."""
        self._entries.clear()
        self._refreshing.clear()

    def _make_room(self, now: float) -> None:
        if len(self._entries) < self.max_entries:
            return
        for key in [k for k, (at, ttl, _) in self._entries.items() if now - at >= ttl]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # dicts keep insertion order: the oldest


def app_ttl_cache(
    request: Request,
    name: str,
    ttl_s: float | None = None,
    max_entries: int = POLL_ENTRIES,
    stale_s: float = POLL_STALE_S,
) -> TtlCache[Any]:
    """The app's cache called ``name``, made at its first use (one per app, shared by its requests);
    ``ttl_s`` defaults to :data:`POLL_TTL_S`."""
    state = request.app.state
    if not hasattr(state, "ttl_caches"):
        state.ttl_caches = {}
    caches: dict[str, TtlCache[Any]] = state.ttl_caches
    if name not in caches:
        caches[name] = TtlCache[Any](POLL_TTL_S if ttl_s is None else ttl_s, max_entries, stale_s=stale_s)
    return caches[name]


async def ranged_answer(
    request: Request,
    name: str,
    start: str | None,
    end: str | None,
    default_span_ms: int,
    question: tuple[Hashable, ...],
    compute: Callable[[int, int], Awaitable[V]],
) -> V:
    """The answer to ``question`` over the range ``start``/``end`` (query parameters, see
    :func:`api.params.time_range`): ``compute(start_ms, end_ms)``'s, from the app's ``name`` cache.

    A range given is part of the key, in whole seconds. No range (as pollers ask) is keyed on the
    question alone, its range taken when the answer is computed: keyed on bounds that end now, every
    second would be a new question, each second's first callers would all wait for its read and no
    kept answer would be served while the next one is read. An answer states the range it covers."""
    cache: TtlCache[V] = app_ttl_cache(request, name)

    def bounds() -> tuple[int, int]:
        return whole_seconds(time_range(start, end, default_span_ms))

    if not start and not end:
        return await cache.get((_DEFAULT_RANGE, *question), lambda: compute(*bounds()))
    start_ms, end_ms = bounds()
    return await cache.get((start_ms, end_ms, *question), lambda: compute(start_ms, end_ms))
