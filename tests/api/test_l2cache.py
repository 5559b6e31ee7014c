"""The L2 cache on a real Redis and on a local three-node Redis Cluster (Debian's ``redis-server``):
answers stored compressed and found again, a stored window drops exactly the answers whose cells it
touches, a write from a lookup older than a drop stores nothing, and the stored-windows feed reaches
a subscriber of another cluster node."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from api.cachecell import Cell
from api.cacheseal import Sealer
from api.l2cache import L2Cache, drop_cells
from perfpulse.storedfeed import StoredFeed
from schemas.events import StoredWindow, decode_stored
from schemas.redisclient import MAX_CONNECTIONS

pytestmark = pytest.mark.integration


def _node_ports(count: int) -> list[int]:
    """Free ports p <= 55535 with p + 10000 free too (a cluster node's bus port)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe, socket.socket() as bus:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
            if port > 55535 or port in ports:
                continue
            try:
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
            ports.append(port)
    return ports


def _cluster_ok(port: int) -> bool:
    info = subprocess.run(
        ["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, text=True, check=False
    ).stdout
    return "cluster_state:ok" in info


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster of three masters on free ports (no replicas), stopped after the module."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (run `make deps`)")
    home = tmp_path_factory.mktemp("cluster")
    ports = _node_ports(3)
    nodes = []
    for port in ports:
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(home),
                "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                "--save", "", "--appendonly", "no"]  # fmt: skip
        nodes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for port in ports:
            deadline = time.monotonic() + 20
            while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False).returncode:
                assert time.monotonic() < deadline, f"node {port} did not start"
                time.sleep(0.05)
        addresses = [f"127.0.0.1:{port}" for port in ports]
        create = ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(create, capture_output=True, check=True, timeout=60)
        deadline = time.monotonic() + 30
        while not all(_cluster_ok(port) for port in ports):
            assert time.monotonic() < deadline, "the cluster did not become ok"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(timeout=15)


@pytest.fixture(params=["single", "cluster"])
async def l2(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[tuple[L2Cache, Any]]:
    """An L2 cache under a fresh namespace, and a client of the same Redis (as the sink's publisher has)."""
    cluster = request.param == "cluster"
    url = request.getfixturevalue("cluster_url") if cluster else redis_url
    cache = L2Cache(url, f"{request.param}{uuid.uuid4().hex[:8]}.", cluster=cluster)
    client: Any = RedisCluster.from_url(url) if cluster else aioredis.from_url(url)
    yield cache, client
    await cache.close()
    await client.aclose()


CELLS = {
    "a": Cell("m", (), 0, 60_000),
    "b": Cell("m", ("gateway",), 60_000, 120_000),
    "c": Cell("m", ("checkout",), 60_000, 120_000),
    "d": Cell("n", (), 0, 60_000),
}


async def _fill(cache: L2Cache) -> None:
    for key, cell in CELLS.items():
        reply = await cache.get_many(cell.metric, [key])
        assert reply is not None
        assert await cache.put(key, f"answer {key}".encode() * 50, cell, 60, reply[1])


async def _held(cache: L2Cache) -> list[str]:
    held = []
    for key, cell in CELLS.items():
        reply = await cache.get_many(cell.metric, [key])
        assert reply is not None
        if reply[0][0] is not None:
            assert reply[0][0] == f"answer {key}".encode() * 50
            held.append(key)
    return held


async def test_a_stored_window_drops_exactly_the_answers_it_touches(l2: tuple[L2Cache, Any]) -> None:
    cache, client = l2
    await _fill(cache)
    assert await _held(cache) == ["a", "b", "c", "d"]
    dropped = await drop_cells(client, [StoredWindow("m", "gateway", 70_000, 10_000, True)], namespace=cache.namespace)
    assert dropped == 1
    assert await _held(cache) == ["a", "c", "d"]
    window = StoredWindow("m", "checkout", 50_000, 10_000, False)  # in "a" (every service), not in "c"
    assert await drop_cells(client, [window], namespace=cache.namespace) == 1
    assert await _held(cache) == ["c", "d"]


async def test_a_write_from_a_lookup_before_a_drop_stores_nothing(l2: tuple[L2Cache, Any]) -> None:
    cache, client = l2
    cell = CELLS["a"]
    reply = await cache.get_many("m", ["a"])
    assert reply is not None
    stale_gen = reply[1]
    await drop_cells(client, [StoredWindow("m", "gateway", 500_000, 10_000, False)], namespace=cache.namespace)
    assert not await cache.put("a", b"read before the insert", cell, 60, stale_gen)
    assert await _held(cache) == []
    fresh = await cache.get_many("m", ["a"])
    assert fresh is not None and await cache.put("a", b"answer a" * 50, cell, 60, fresh[1])


async def test_more_lookups_than_connections_are_not_an_outage(
    l2: tuple[L2Cache, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """500 concurrent lookups of one metric (one slot): a single Redis answers them all, waiting for
    a free connection; a cluster node refuses those past its connections, as misses. Neither is taken
    for Redis being down, which would skip it for every request during RETRY_S."""
    cache, _ = l2
    await _fill(cache)
    caplog.set_level(logging.INFO, "perfpulse.api.cache")
    replies = await asyncio.gather(*(cache.get_many("m", ["a"]) for _ in range(500)))
    assert "cannot reach Redis" not in caplog.text
    answered = [reply for reply in replies if reply is not None]
    assert all(reply[0] == [b"answer a" * 50] for reply in answered)
    assert len(answered) == (len(replies) if cache.namespace.startswith("single") else MAX_CONNECTIONS)


async def test_the_feed_reaches_a_subscriber_of_another_cluster_node(cluster_url: str) -> None:
    nodes = await asyncio.to_thread(_cluster_nodes, cluster_url)
    other_nodes = [line.split()[1].split("@")[0] for line in nodes if "myself" not in line]
    subscriber: Any = aioredis.from_url(f"redis://{other_nodes[0]}/0")
    pubsub = subscriber.pubsub()
    await pubsub.subscribe("stored")
    confirmation = await pubsub.get_message(timeout=10)
    assert confirmation is not None and confirmation["type"] == "subscribe"
    feed = StoredFeed(cluster_url, "stored", cluster=True)
    window = StoredWindow("m", "gateway", 0, 10_000, False)
    try:
        await feed.publish([window], [])
        async with asyncio.timeout(20):
            message = None
            while message is None:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        assert decode_stored(message["data"])[0] == [window]
    finally:
        await feed.close()
        await pubsub.aclose()
        await subscriber.aclose()


def _cluster_nodes(cluster_url: str) -> list[str]:
    """``CLUSTER NODES`` of the node ``cluster_url`` names, a line per node."""
    port = cluster_url.rsplit(":", 1)[1].split("/")[0]
    nodes = subprocess.run(["redis-cli", "-p", port, "cluster", "nodes"], capture_output=True, text=True, check=True)
    return nodes.stdout.splitlines()


def test_the_cluster_fixture_is_three_masters(cluster_url: str) -> None:
    assert sum("master" in line for line in _cluster_nodes(cluster_url)) == 3


async def test_sealed_values_are_not_readable_in_redis_and_open_only_with_the_key(redis_url: str) -> None:
    namespace = f"t{uuid.uuid4().hex[:8]}."
    sealed = L2Cache(redis_url, namespace, sealer=Sealer(bytes(range(32))))
    other = L2Cache(redis_url, namespace, sealer=Sealer(bytes(32)))
    plain = L2Cache(redis_url, namespace)
    client: Any = aioredis.from_url(redis_url)
    try:
        reply = await sealed.get_many("m", ["a"])
        assert reply is not None
        answer = b'{"series": [{"group": {"service": "gateway"}}]}' * 20
        assert await sealed.put("a", answer, CELLS["a"], 60, reply[1])
        assert await sealed.get_many("m", ["a"]) == ([answer], reply[1])
        assert await other.get_many("m", ["a"]) == ([None], reply[1])  # a miss, not an error
        assert await plain.get_many("m", ["a"]) == ([None], reply[1])
        keys = [k for k in await client.keys(f"{namespace}qc:*") if not k.endswith((b":gen", b":idx"))]
        stored = await client.get(keys[0])
        assert b"gateway" not in stored and b"gateway" not in zlib_or_raw(stored)
    finally:
        for cache in (sealed, other, plain):
            await cache.close()
        await client.aclose()


def zlib_or_raw(data: bytes) -> bytes:
    """``data`` decompressed when it is zlib, else as it is (a sealed value is not)."""
    try:
        return zlib.decompress(data)
    except zlib.error:
        return data
