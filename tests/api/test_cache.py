"""The query cache over the real app, store, Kafka and Redis: a settled block is answered from the
cache (rows stored behind its back do not show), a late correction that goes through the real sink
drops exactly the block it touches (the next answer is ClickHouse's there, the other block is still
the cached one), and with Redis stopped the answers keep coming, ClickHouse's at most
UNHEARD_TTL_S late."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api import cache as cache_module
from api.cache import CacheConfig, Part, QueryCache, QuerySpec
from infra import LocalRedis
from perfpulse.settings import Settings
from schemas import RecordType, RollupBatch, encode_rollups, type_headers
from schemas.events import StoredWindow
from tests.api.apps import app_store, running_app
from tests.storage.builders import BASE_MS, insert_rows, window_row

pytestmark = pytest.mark.integration

BLOCK_MS = 60_000  # 60 buckets of the 1 s step the queries use: the cache's block


def query(client: TestClient, metric: str, **params: Any) -> Any:
    params = {"metric": metric, "start": BASE_MS, "end": BASE_MS + 2 * BLOCK_MS, "step": "1s", **params}
    response = client.get("/api/v1/query", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def points(body: Any, block: int) -> list[Any]:
    """The points of the first series inside block ``block`` (0 or 1) of the range."""
    low, high = BASE_MS + block * BLOCK_MS, BASE_MS + (block + 1) * BLOCK_MS
    return [p for p in body["series"][0]["points"] if low <= p["t"] < high]


def hits(layer: str) -> float:
    return REGISTRY.get_sample_value("perfpulse_cache_hits_total", {"layer": layer}) or 0.0


async def produce_rollups(bootstrap: str, topic: str, batch: RollupBatch) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, encode_rollups(batch), partition=0, headers=type_headers(RecordType.ROLLUPS)
        )
    finally:
        await producer.stop()


def test_a_settled_block_is_served_from_the_cache(client: TestClient) -> None:
    metric = "cache.settled"
    insert_rows(app_store(client), [window_row([10.0, 20.0], name=metric, window_start_ms=BASE_MS + 5_000)])
    first = query(client, metric)
    before = hits("l1")
    # stored behind the cache's back (no stored-windows message): the cached block does not show it
    insert_rows(app_store(client), [window_row([99.0], name=metric, window_start_ms=BASE_MS + 6_000)])
    # The same query in another parameter order: not the HTTP short path's key (an exact query string,
    # which would answer before the route and count no hit), so the query cache answers and counts.
    reordered = {"step": "1s", "end": BASE_MS + 2 * BLOCK_MS, "start": BASE_MS, "metric": metric}
    response = client.get("/api/v1/query", params=reordered)
    assert response.status_code == 200, response.text
    assert response.json() == first
    assert hits("l1") - before == 2  # both blocks
    assert [p["t"] for p in points(first, 0)] == [BASE_MS + 5_000]


def test_a_late_correction_through_the_sink_drops_exactly_its_block(
    client: TestClient, module_settings: Settings
) -> None:
    metric = "cache.corrected"
    store = app_store(client)
    insert_rows(store, [window_row([10.0], name=metric, window_start_ms=BASE_MS + 1_000)])
    insert_rows(store, [window_row([30.0], name=metric, window_start_ms=BASE_MS + BLOCK_MS + 1_000)])
    cached = query(client, metric)
    insert_rows(store, [window_row([50.0], name=metric, window_start_ms=BASE_MS + 2_000)])  # unannounced
    late = window_row([70.0, 80.0], name=metric, window_start_ms=BASE_MS + BLOCK_MS + 2_000, late=True)
    tick = time.time_ns() // 1_000_000  # above any tick the module's sink stored for partition 0
    asyncio.run(produce_rollups(module_settings.kafka_bootstrap, module_settings.topics.rollups,
                                RollupBatch(0, tick, 0, [late])))  # fmt: skip
    deadline = time.monotonic() + 40
    answer = query(client, metric)
    while points(answer, 1) == points(cached, 1):
        assert time.monotonic() < deadline, "the sink did not store the correction, or the cache kept its block"
        time.sleep(0.2)
        answer = query(client, metric)
    clickhouse = query(client, metric, service="gateway")  # never asked before: read from ClickHouse
    assert points(answer, 1) == points(clickhouse, 1)
    assert [p["t"] for p in points(answer, 1)] == [BASE_MS + BLOCK_MS + 1_000, BASE_MS + BLOCK_MS + 2_000]
    # the untouched block is still the cached one (ClickHouse's has the unannounced row)
    assert points(answer, 0) == points(cached, 0) != points(clickhouse, 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path / "redis", port=_free_port())
    server.home.mkdir(parents=True)
    server.start()
    yield server
    server.stop()


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_with_redis_stopped_answers_are_clickhouses(
    client: TestClient, module_settings: Settings, own_redis: LocalRedis
) -> None:
    metric = "cache.redis.down"
    settings = module_settings.model_copy(
        # a transactional id of its own: two live producers of one id fence each other (503s)
        update={"redis_url": own_redis.url, "ingest_transactional_id": f"{module_settings.transactional_id}-2"}
    )
    with running_app(settings, with_sink=False, with_notifier=False) as app:
        cache: QueryCache = app.app.state.cache  # type: ignore[attr-defined]
        _wait(lambda: cache.hearing, "the cache never subscribed")
        insert_rows(app_store(app), [window_row([10.0], name=metric, window_start_ms=BASE_MS + 1_000)])
        first = query(app, metric)
        own_redis.stop()
        _wait(lambda: not cache.hearing, "the cache did not notice Redis stopping")
        assert query(app, metric) == first
        insert_rows(app_store(app), [window_row([20.0], name=metric, window_start_ms=BASE_MS + BLOCK_MS + 1_000)])
        # L1 keeps an answer UNHEARD_TTL_S while it cannot hear of changes; then ClickHouse's shows
        _wait(lambda: len(query(app, metric)["series"][0]["points"]) == 2, "the new row never showed")
        down = query(app, metric)
        assert down == query(app, metric, service="gateway")  # the same query never asked: ClickHouse's
        assert [p["t"] for p in down["series"][0]["points"]] == [BASE_MS + 1_000, BASE_MS + BLOCK_MS + 1_000]
        own_redis.start()
        _wait(lambda: cache.hearing, "the cache did not subscribe again once Redis was back")
        assert query(app, metric) == down


def unit_cache(settle_ms: int = 0) -> QueryCache:
    """A cache of L1 alone over 1 s windows, hearing invalidations."""
    config = CacheConfig(
        l1_bytes=1 << 20, l1_ttl_s=60, blocks_ttl_s=60, ranges_ttl_s=60, settle_ms=settle_ms, window_ms=1_000
    )
    cache = QueryCache(config, l2=None)
    cache.hearing = True
    return cache


class Reads:
    """A stand-in for the ClickHouse read the API passes in: records each range asked, answers one
    point per 10 s inside it."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []

    async def __call__(self, start_ms: int, end_ms: int) -> Part:
        self.ranges.append((start_ms, end_ms))
        first = -(-start_ms // 10_000) * 10_000
        return Part([{"group": {}, "points": [{"t": t, "count": 1} for t in range(first, end_ms, 10_000)]}])


class Numbered:
    """A stand-in for the ClickHouse read that answers one point, its count the read's number; the
    read numbered ``hold`` sets ``started`` and waits for ``release``."""

    def __init__(self, hold: int | None = None) -> None:
        self.reads = 0
        self.hold = hold
        self.started, self.release = asyncio.Event(), asyncio.Event()

    async def __call__(self, start_ms: int, end_ms: int) -> Part:
        self.reads += 1
        number = self.reads
        if number == self.hold:
            self.started.set()
            await self.release.wait()
        return Part([{"group": {}, "points": [{"t": start_ms, "count": number}]}])


async def test_the_open_edge_is_read_once_until_a_window_of_it_is_stored() -> None:
    cache = unit_cache(settle_ms=5_000)
    spec = QuerySpec("m", (), ("count",), (), (), None)
    now = time.time_ns() // 1_000_000
    read = Reads()
    # ends 1 ms and 400 ms past a window boundary: the same windows, one read
    boundary = now // 1_000 * 1_000
    first = await cache.answer(spec, boundary - 60_000 + 1, boundary + 1, read)
    again = await cache.answer(spec, boundary - 60_000 + 400, boundary + 400, read)
    assert read.ranges == [(boundary - 59_000, boundary + 1_000)]
    assert again.series == first.series and not first.settled
    cache.invalidate([StoredWindow("m", "gateway", boundary - 10_000, 1_000, False)])  # the sink stored one
    await cache.answer(spec, boundary - 60_000 + 1, boundary + 1, read)
    assert len(read.ranges) == 2


async def test_a_stepped_query_reads_only_what_is_not_settled_yet() -> None:
    cache = unit_cache(settle_ms=5_000)
    spec = QuerySpec("m", (), ("count",), (), (), 10_000)  # blocks of 600 s
    now = time.time_ns() // 1_000_000
    if (now - 5_000) % 10_000 > 7_000:  # the settled edge moves at each 10 s step: start just after one
        await asyncio.sleep((10_000 - (now - 5_000) % 10_000 + 100) / 1000)
        now = time.time_ns() // 1_000_000
    read = Reads()
    start = (now - 1_800_000) // 1_000 * 1_000 + 1  # half an hour, not aligned to a block
    await cache.answer(spec, start, now, read)
    horizon_step = (now // 1_000 * 1_000 - 5_000) // 10_000 * 10_000  # the horizon moves at window boundaries
    read_once = sorted(read.ranges)
    assert read_once[0][0] == start + 999 and read_once[-1][1] == -(-now // 1_000) * 1_000
    read.ranges.clear()
    await cache.answer(spec, start, now, read)
    assert read.ranges == []  # everything kept, the open edge for OPEN_TTL_S
    cache.invalidate([StoredWindow("m", "gateway", horizon_step, 1_000, False)])  # the open edge changed
    await cache.answer(spec, start, now, read)
    assert read.ranges == [(horizon_step, -(-now // 1_000) * 1_000)]  # only the part after the settled edge


async def test_as_the_settled_edge_moves_a_step_only_its_sub_block_is_read_again() -> None:
    cache = unit_cache(settle_ms=5_000)
    step = 1_000
    block, sub_block = step * cache_module.BLOCK_BUCKETS, step * cache_module.SUB_BLOCK_BUCKETS
    spec = QuerySpec("m", (), ("count",), (), (), step)

    def settled_edge(now: int) -> int:  # the horizon moves at window boundaries (1 s here)
        return now // 1_000 * 1_000 - 5_000

    now = time.time_ns() // 1_000_000
    # The edge, now and a window later, in one sub-block that is not its block's first (where a
    # sub-block and the block begin together), and this second's requests done inside it.
    while (
        settled_edge(now) % block < sub_block
        or settled_edge(now) % sub_block > sub_block - 2 * step
        or now % 1_000 > 600
    ):
        await asyncio.sleep(0.1)
        now = time.time_ns() // 1_000_000
    read = Reads()
    start = now - 1_800_000
    await cache.answer(spec, start, now, read)
    await asyncio.sleep((1_000 - now % 1_000 + 50) / 1000)  # the next window: the edge moves a step
    later = time.time_ns() // 1_000_000
    read.ranges.clear()
    await cache.answer(spec, start, later, read)
    edge = settled_edge(later)
    assert edge == settled_edge(now) + step
    # The block's sub-blocks before the edge's are kept; before sub-blocks the read began at the block.
    assert read.ranges == [(edge // sub_block * sub_block, -(-later // 1_000) * 1_000)]


async def test_identical_reads_at_once_run_once() -> None:
    cache = unit_cache()
    spec = QuerySpec("m", (), ("count",), (), (), None)
    started, release = asyncio.Event(), asyncio.Event()
    reads: list[tuple[int, int]] = []

    async def read(start_ms: int, end_ms: int) -> Part:
        reads.append((start_ms, end_ms))
        started.set()
        await release.wait()
        return Part([{"group": {}, "points": [{"t": start_ms, "count": 3}]}])

    end = (time.time_ns() // 1_000_000 // 1_000 + 60) * 1_000  # open: only coalescing spares a read
    waiting = [asyncio.create_task(cache.answer(spec, 1_000, end, read)) for _ in range(5)]
    await started.wait()  # the others asked before the read began (the loop runs tasks in order)
    release.set()
    answers = await asyncio.gather(*waiting)
    assert reads == [(1_000, end)]
    assert {a.series[0]["points"][0]["count"] for a in answers} == {3}


def test_cache_figures_are_on_metrics(client: TestClient) -> None:
    query(client, "cache.figures")
    query(client, "cache.figures")
    text = client.get("/metrics").text
    for name in ("hits_total", "misses_total", "evictions_total", "invalidations_total", "bytes", "coalesced_total"):
        assert f"perfpulse_cache_{name}" in text, name
    assert 'perfpulse_cache_hits_total{layer="l1"}' in text


async def test_a_read_during_a_change_keeps_only_the_parts_the_change_did_not_touch() -> None:
    cache = unit_cache()
    spec = QuerySpec("m", (), ("count",), (), (), 1_000)  # blocks of 60 s
    started, release = asyncio.Event(), asyncio.Event()
    reads: list[tuple[int, int]] = []

    async def read(start_ms: int, end_ms: int) -> Part:
        reads.append((start_ms, end_ms))
        started.set()
        await release.wait()
        return Part([{"group": {}, "points": [{"t": t, "count": 1} for t in range(start_ms, end_ms, 30_000)]}])

    asked = asyncio.create_task(cache.answer(spec, 0, 180_000, read))  # three settled blocks, read at once
    await started.wait()
    cache.invalidate([StoredWindow("m", "gateway", 70_000, 1_000, True)])  # stored while the read ran: block 2
    release.set()
    await asked
    reads.clear()
    await cache.answer(spec, 0, 180_000, read)
    assert reads == [(60_000, 120_000)]  # blocks 1 and 3 were kept; block 2 may predate the change


async def test_a_request_joining_a_read_begun_before_a_change_does_not_cache_it() -> None:
    cache = unit_cache()
    spec = QuerySpec("m", (), ("count",), (), (), None)
    read = Numbered(hold=1)
    first = asyncio.create_task(cache.answer(spec, 0, 60_000, read))
    await read.started.wait()
    cache.invalidate([StoredWindow("m", "gateway", 1_000, 1_000, True)])  # after the read began
    second = asyncio.create_task(cache.answer(spec, 0, 60_000, read))  # asks after the change, joins the read
    await asyncio.sleep(0)
    read.release.set()
    await asyncio.gather(first, second)
    assert read.reads == 1
    await cache.answer(spec, 0, 60_000, read)
    assert read.reads == 2  # what the joined read fetched may predate the change: nobody kept it


async def test_a_whole_answer_is_kept_for_its_window_period_until_a_window_is_heard() -> None:
    cache = unit_cache()
    cache.config = dataclasses.replace(cache.config, window_ms=3_600_000)  # one period for the whole test
    spec = QuerySpec("m", (), ("count",), (), (), 10_000)
    read = Reads()
    first = await cache.answer(spec, 0, 1_800_000, read)
    cache.l1.clear()  # the parts gone from L1: only the kept answer can serve
    again = await cache.answer(spec, 0, 1_800_000, read)
    assert len(read.ranges) == 1 and again.parts == first.parts and again.series is first.series
    assert "db" not in again.timing_ms
    cache.invalidate([StoredWindow("other", "gateway", 0, 1_000, False)])  # any window heard ends it
    await cache.answer(spec, 0, 1_800_000, read)
    assert len(read.ranges) == 2
    cache.invalidate([])  # the answers kept are let go whenever windows are heard
    cache.hearing = False  # not hearing: no answer is kept beyond L1's short lifetime
    cache.l1.clear()
    await cache.answer(spec, 0, 1_800_000, read)
    cache.l1.clear()
    await cache.answer(spec, 0, 1_800_000, read)
    assert len(read.ranges) == 4


async def test_without_l1_no_answer_is_kept_even_while_hearing() -> None:
    """``cache_l1_mb = 0`` (the query benchmark's uncached reads): every request reads storage."""
    cache = unit_cache()
    cache.config = dataclasses.replace(cache.config, l1_bytes=0, window_ms=3_600_000)
    cache.l1 = type(cache.l1)(0, size_of=lambda kept: len(kept[0]))
    spec = QuerySpec("m", (), ("count",), (), (), 10_000)
    read = Reads()
    for _ in range(3):
        answer = await cache.answer(spec, 0, 1_800_000, read)
        assert answer.kept is None and "db" in answer.timing_ms
    assert len(read.ranges) == 3


async def test_while_a_dropped_part_is_read_again_other_requests_get_the_dropped_one() -> None:
    cache = unit_cache()
    spec = QuerySpec("m", (), ("count",), (), (), None)
    read = Numbered(hold=2)  # the read after the drop runs until released
    end = (time.time_ns() // 1_000_000 // 1_000 + 60) * 1_000  # open: kept in L1 until a window of it is stored
    first = await cache.answer(spec, 1_000, end, read)
    cache.invalidate([StoredWindow("m", "gateway", 5_000, 1_000, False)])  # the sink stored a window of it
    reading = asyncio.create_task(cache.answer(spec, 1_000, end, read))  # begins the read again, waits for it
    await read.started.wait()
    meanwhile = await asyncio.wait_for(cache.answer(spec, 1_000, end, read), 5)  # the dropped part stands in
    assert meanwhile.series == first.series and "db" not in meanwhile.timing_ms
    assert meanwhile.kept is None and not meanwhile.settled  # nor is it kept as the answer, anywhere
    read.release.set()
    assert (await reading).series[0]["points"][0]["count"] == 2
    after = await cache.answer(spec, 1_000, end, read)  # the part read again replaced the stand-in
    assert after.series[0]["points"][0]["count"] == 2 and read.reads == 2


async def test_with_no_read_running_a_request_after_a_drop_waits_for_the_new_answer() -> None:
    cache = unit_cache()
    spec = QuerySpec("m", (), ("count",), (), (), None)
    read = Numbered()
    end = (time.time_ns() // 1_000_000 // 1_000 + 60) * 1_000
    await cache.answer(spec, 1_000, end, read)
    cache.invalidate([StoredWindow("m", "gateway", 5_000, 1_000, False)])
    after = await cache.answer(spec, 1_000, end, read)  # a lone poller sees the stored window at once
    assert after.series[0]["points"][0]["count"] == 2


async def test_dropped_parts_kept_to_stand_in_are_bounded_in_bytes_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = QuerySpec("m", (), ("count",), (), (), None)
    sized = unit_cache()
    for start in (0, 60_000, 120_000):
        await sized.answer(spec, start, start + 60_000, Numbered())
    three = sized.l1.bytes  # what three parts of this shape count
    cache = QueryCache(dataclasses.replace(sized.config, l1_bytes=three), l2=None)  # L1 holds three parts
    cache.hearing = True
    for batch in ((0, 60_000, 120_000), (180_000, 240_000, 300_000)):
        for start in batch:
            await cache.answer(spec, start, start + 60_000, Numbered())
        cache.invalidate([StoredWindow("m", "gateway", start + 1_000, 1_000, True) for start in batch])
    kept = cache.stale.bytes
    assert kept > 0
    assert kept <= three and cache.stale.get(spec.key(300_000, 360_000)) is not None
    assert cache.stale.get(spec.key(0, 60_000)) is None  # the oldest went
    monkeypatch.setattr(cache_module, "STALE_TTL_S", 0.0)
    expiring = unit_cache()
    await expiring.answer(spec, 0, 60_000, Numbered())
    expiring.invalidate([StoredWindow("m", "gateway", 1_000, 1_000, True)])
    assert expiring.stale.get(spec.key(0, 60_000)) is None  # past its time at once: it stands in for nothing
