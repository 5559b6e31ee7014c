"""The answer cache on a hand-moved clock: one computation per key and ttl, shared by concurrent
callers, failures not kept, the number of entries bounded; and the polled reads keyed through
``ranged_answer``, over the real app."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from api import params, ttlcache
from api.ttlcache import TtlCache
from tests.storage.builders import BASE_MS


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A computation that counts its runs and can be held until released."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> int:
        self.runs += 1
        await self.release.wait()
        return self.runs


def test_one_computation_per_key_within_the_ttl() -> None:
    async def scenario() -> None:
        clock, compute = Clock(), Counter()
        cache = TtlCache[int](1.0, 10, clock)
        assert [await cache.get("a", compute) for _ in range(3)] == [1, 1, 1]
        assert await cache.get("b", compute) == 2  # another key: its own computation
        clock.now += 0.999
        assert await cache.get("a", compute) == 1
        clock.now += 0.001
        assert await cache.get("a", compute) == 3 and compute.runs == 3

    asyncio.run(scenario())


def test_concurrent_callers_share_one_computation() -> None:
    async def scenario() -> None:
        compute = Counter()
        compute.release.clear()
        cache = TtlCache[int](1.0, 10, Clock())
        waiting = [asyncio.create_task(cache.get("a", compute)) for _ in range(50)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # one caller leaving does not cancel the others' answer
        compute.release.set()
        done = await asyncio.gather(*waiting[1:])
        assert done == [1] * 49 and compute.runs == 1

    asyncio.run(scenario())


def test_a_failed_computation_is_not_kept() -> None:
    async def scenario() -> None:
        calls = []

        async def flaky() -> int:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("storage down")
            return len(calls)

        cache = TtlCache[int](1.0, 10, Clock())
        with pytest.raises(RuntimeError, match="storage down"):
            await cache.get("a", flaky)
        assert await cache.get("a", flaky) == 2 and len(cache) == 1

    asyncio.run(scenario())


def test_entries_are_bounded_expired_first_then_oldest() -> None:
    async def scenario() -> None:
        clock, compute = Clock(), Counter()
        cache = TtlCache[int](1.0, 3, clock)
        for key in ("a", "b"):
            await cache.get(key, compute)
        clock.now += 2.0  # a and b expire
        for key in ("c", "d", "e"):
            await cache.get(key, compute)
        assert len(cache) == 3  # a and b dropped to make room for e
        await cache.get("f", compute)  # none expired: the oldest (c) goes
        assert len(cache) == 3 and compute.runs == 6
        assert await cache.get("d", compute) == 4 and await cache.get("c", compute) == 7

    asyncio.run(scenario())


def test_refuses_a_cache_that_cannot_hold_anything() -> None:
    with pytest.raises(ValueError, match="cannot build a cache of ttl 0"):
        TtlCache[int](0, 10)


def test_a_stale_answer_is_served_while_one_refresh_runs() -> None:
    async def scenario() -> None:
        clock, compute = Clock(), Counter()
        cache = TtlCache[int](1.0, 10, clock, stale_s=10.0)
        assert await cache.get("a", compute) == 1
        clock.now += 2.0  # past the ttl, within the stale time
        compute.release.clear()
        assert [await cache.get("a", compute) for _ in range(5)] == [1] * 5  # no caller waits
        await asyncio.sleep(0)  # the refresh starts
        assert compute.runs == 2  # one refresh for all of them
        compute.release.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert await cache.get("a", compute) == 2 and compute.runs == 2
        clock.now += 1.0 + 10.0  # too old to serve: callers wait for a new answer
        assert await cache.get("a", compute) == 3

    asyncio.run(scenario())


def test_a_failed_refresh_keeps_the_stale_answer_and_clear_drops_both() -> None:
    async def scenario() -> None:
        clock = Clock()
        cache = TtlCache[int](1.0, 10, clock, stale_s=10.0)
        assert await cache.get("a", Counter()) == 1

        async def failing() -> int:
            raise RuntimeError("storage unavailable")

        clock.now += 2.0
        assert await cache.get("a", failing) == 1
        await asyncio.sleep(0)
        assert await cache.get("a", failing) == 1  # the refresh failed: still the old answer
        release = asyncio.Event()

        async def held() -> int:
            await release.wait()
            return 7

        clock.now += 0.5
        await asyncio.sleep(0)
        assert await cache.get("a", held) == 1  # starts a refresh that outlives clear()
        cache.clear()
        release.set()
        await asyncio.sleep(0)
        assert await cache.get("a", Counter()) == 1 and len(cache) == 1  # computed afresh, not the held one

    asyncio.run(scenario())


def test_a_full_cache_lets_go_of_answers_past_their_own_ttl_not_the_caches() -> None:
    async def scenario() -> None:
        clock, compute = Clock(), Counter()
        cache = TtlCache[int](1.0, 3, clock)
        for key in ("a", "b"):
            await cache.get(key, compute, 300.0)
        await cache.get("c", compute)
        clock.now += 2.0  # past the cache's ttl: c expired, a and b (300 s) not
        await cache.get("d", compute)
        assert len(cache) == 3 and compute.runs == 4
        assert await cache.get("a", compute, 300.0) == 1 and await cache.get("b", compute, 300.0) == 2

    asyncio.run(scenario())


def test_a_longer_ttl_asked_by_the_caller_keeps_the_answer_longer() -> None:
    async def scenario() -> None:
        clock, compute = Clock(), Counter()
        cache = TtlCache[int](1.0, 10, clock)
        assert await cache.get("a", compute, 300.0) == 1
        clock.now += 299.0
        assert await cache.get("a", compute, 300.0) == 1
        assert await cache.get("a", compute) == 2  # at the cache's own ttl it has expired

    asyncio.run(scenario())


def test_dropped_keys_are_computed_again_and_a_refresh_running_then_is_not_kept() -> None:
    async def scenario() -> None:
        clock, release, runs = Clock(), asyncio.Event(), 0
        release.set()

        async def numbered() -> int:  # answers its own run's number
            nonlocal runs
            runs += 1
            mine = runs
            await release.wait()
            return mine

        cache = TtlCache[int](1.0, 10, clock, stale_s=10.0)
        assert [await cache.get(k, numbered) for k in ("a", "b")] == [1, 2]
        assert cache.drop(["a", "unknown"]) == 1
        assert await cache.get("a", numbered) == 3 and await cache.get("b", numbered) == 2
        clock.now += 1.5
        release.clear()
        assert await cache.get("b", numbered) == 2  # stale while its refresh (run 4) waits
        cache.drop(["b"])  # the data changed while the refresh read it
        asked = asyncio.create_task(cache.get("b", numbered))  # run 5, held too
        await asyncio.sleep(0)
        release.set()
        assert await asked == 5
        await asyncio.sleep(0.01)
        assert await cache.get("b", numbered) == 5  # the refresh's answer (4) did not replace it
        assert runs == 5

    asyncio.run(scenario())


@pytest.mark.parametrize("path", ["/api/v1/services", "/api/v1/metrics", "/api/v1/logs"])
def test_asked_without_a_range_pollers_share_one_answer_from_second_to_second(
    client: TestClient, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a range the bounds end now, so they move every second: keyed on them, each second's
    # pollers would wait for a read of their own. Keyed on the question, they share the kept answer.
    monkeypatch.setattr(ttlcache, "POLL_TTL_S", 60.0)
    monkeypatch.setattr(client.app.state, "ttl_caches", {}, raising=False)  # type: ignore[attr-defined]
    now = BASE_MS
    monkeypatch.setattr(params, "now_ms", lambda: now)
    first = client.get(path).json()
    assert first["end"] == now and first["start"] < now
    now += 5_000  # five seconds on: a new range, the same question
    assert client.get(path).json() == first
    # A range given is its own question; so is another question without one.
    ranged = client.get(path, params={"start": now - 60_000, "end": now}).json()
    assert (ranged["start"], ranged["end"]) == (now - 60_000, now)
    if path == "/api/v1/logs":
        other = client.get(path, params={"limit": 7}).json()
        assert other["end"] == now
