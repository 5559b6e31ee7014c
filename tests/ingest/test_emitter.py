"""Emitter: validation at the call, bounded buffering, timers, and exactly-once delivery to Kafka."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from infra import LocalKafka
from ingest import Emitter
from perfpulse.topics import ensure_topics
from schemas import Limits, MetricBatch, Topics
from schemas.checks import check_labels
from tests.ingest.helpers import read_batches, tcp_proxy
from tests.ports import free_broker_port

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE = "127.0.0.1:1"  # connection refused at once: Kafka is "down"

Key = tuple[str, str, tuple[tuple[str, str], ...]]  # name, kind, sorted labels


@pytest.fixture
def offline() -> Iterator[Emitter]:
    """An emitter whose Kafka is unreachable: everything it records stays buffered."""
    emitter = Emitter("svc", UNREACHABLE, batch_size=100, linger_ms=20, max_buffer=10_000, request_timeout_s=1)
    yield emitter
    emitter.close(timeout=0.5)


def held(emitter: Emitter) -> dict[Key, list[float]]:
    """The values the emitter holds (open, built or in flight), per series, in recording order."""
    out: dict[Key, list[float]] = defaultdict(list)
    buffer = emitter._buffer
    with buffer.lock:
        records = [p.batch for p in sorted([*buffer._pending, *buffer._in_flight.values()], key=lambda p: p.seq)]
        for batch in records:
            for s in batch.series:
                out[(s.name, s.kind.value, tuple(sorted(s.labels.items())))] += s.values.tolist()
        for series in buffer._dirty:
            out[(series.name, series.kind.value, tuple(sorted(series.labels.items())))] += list(series.values)
    return dict(out)


def wait_until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "offending"),
    [
        (lambda e: e.observe("1bad", 1.0), "'1bad'"),
        (lambda e: e.observe("", 1.0), "''"),
        (lambda e: e.observe("has space", 1.0), "'has space'"),
        (lambda e: e.count("ok", 1.0, **{"bad key": "x"}), "'bad key'"),
        (lambda e: e.gauge("ok", 1.0, service="x"), "'service'"),
        (lambda e: e.observe("ok", 1.0, route=200), "'route'"),
        (lambda e: e.gauge("ok", 1.0, route=["unhashable"]), "'route'"),
        (lambda e: e.observe("ok", 1.0, route="x" * 2000), "'route'"),
        (lambda e: e.timer("bad name!"), "'bad name!'"),
        (lambda e: e.observe_many("9lives", [1.0]), "'9lives'"),
    ],
)
def test_invalid_names_and_labels_raise_at_the_call(offline: Emitter, call: object, offending: str) -> None:
    with pytest.raises(ValueError) as info:
        call(offline)  # type: ignore[operator]
    assert offending in str(info.value)
    assert offline.buffered == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_raise(offline: Emitter, value: float) -> None:
    for record in (offline.observe, offline.count, offline.gauge):
        with pytest.raises(ValueError, match=r"must be finite|must not be negative"):
            record("m", value)
    with pytest.raises(ValueError, match="at index 1"):
        offline.observe_many("m", [1.0, value, 2.0])
    assert offline.buffered == 0


def test_negative_counter_increment_raises(offline: Emitter) -> None:
    with pytest.raises(ValueError, match="-1"):
        offline.count("requests", -1)


def test_timestamps_default_to_now_and_are_checked_for_skew(offline: Emitter) -> None:
    before = int(time.time() * 1000)
    offline.observe("m", 1.0)
    offline.observe("m", 2.0, ts_ms=before - 60_000)
    with offline._buffer.lock:
        (series,) = offline._buffer._dirty
        stamps = list(series.ts)
    assert before <= stamps[0] <= int(time.time() * 1000)
    assert stamps[1] == before - 60_000
    with pytest.raises(ValueError, match="in the past"):
        offline.observe("m", 1.0, ts_ms=before - 25 * 3_600_000)
    with pytest.raises(ValueError, match="in the future"):
        offline.gauge("m", 1.0, ts_ms=before + 3_600_000)


def test_constructor_validates_service_and_default_labels() -> None:
    with pytest.raises(ValueError, match="'bad service'"):
        Emitter("bad service", UNREACHABLE)
    with pytest.raises(ValueError, match="'service'"):
        Emitter("svc", UNREACHABLE, labels={"service": "x"})
    with pytest.raises(ValueError, match="batch_size"):
        Emitter("svc", UNREACHABLE, batch_size=0)


def test_validation_runs_once_per_series(offline: Emitter, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Counter[str]()

    def counting(labels: object, limits: Limits) -> str | None:
        calls["labels"] += 1
        return check_labels(labels, limits)

    monkeypatch.setattr("ingest.sdk.emitter.check_labels", counting)
    for i in range(1_000):
        offline.observe("latency", float(i), route=f"/r{i % 3}", method="GET")
    assert calls["labels"] == 3


def test_default_labels_merge_under_call_labels() -> None:
    emitter = Emitter("svc", UNREACHABLE, labels={"env": "test", "region": "eu"}, request_timeout_s=1)
    try:
        emitter.observe("m", 1.0, region="us", route="/a")
        emitter.observe("m", 2.0, route="/a", region="us")  # same series, other keyword order
        emitter.count("c")
        assert held(emitter) == {
            ("m", "distribution", (("env", "test"), ("region", "us"), ("route", "/a"))): [1.0, 2.0],
            ("c", "counter", (("env", "test"), ("region", "eu"))): [1.0],
        }
    finally:
        emitter.close(timeout=0.5)


def test_label_named_like_a_parameter_is_a_label(offline: Emitter) -> None:
    offline.observe("m", 1.0, name="n", value="v")
    assert held(offline) == {("m", "distribution", (("name", "n"), ("value", "v"))): [1.0]}


# --------------------------------------------------------------------------- buffering and drops


def test_points_stay_buffered_while_kafka_is_unreachable(offline: Emitter) -> None:
    for i in range(250):
        offline.observe("m", float(i))
    wait_until(lambda: len(offline._buffer._pending) == 3)  # built into records of <= 100 points
    assert offline.buffered == 250 and offline.sent == 0 and offline.dropped == 0
    started = time.monotonic()
    assert offline.flush(timeout=0.3) is False
    assert time.monotonic() - started < 1.0
    assert held(offline)[("m", "distribution", ())] == [float(i) for i in range(250)]


def test_full_buffer_drops_new_points_without_blocking(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="perfpulse.ingest.sdk.emitter")
    # A long linger: nothing is built into records, so nothing old can make room.
    emitter = Emitter("svc", UNREACHABLE, batch_size=5_000, linger_ms=60_000, max_buffer=1_000, request_timeout_s=1)
    try:
        started = time.monotonic()
        for i in range(20_000):
            emitter.observe("m", float(i), route="/a")
        assert time.monotonic() - started < 2.0
        assert emitter.buffered == 1_000
        assert emitter.dropped == 19_000
        assert held(emitter)[("m", "distribution", (("route", "/a"),))] == [float(i) for i in range(1_000)]
        warnings = [r for r in caplog.records if r.name == "perfpulse.ingest.sdk.emitter"]
        assert len(warnings) == 1  # rate-limited
        assert "dropped" in warnings[0].getMessage() and "buffer of 1000 points full" in warnings[0].getMessage()
    finally:
        emitter.close(timeout=0.5)


def test_full_buffer_drops_the_oldest_built_records_first() -> None:
    emitter = Emitter("svc", UNREACHABLE, batch_size=100, linger_ms=10, max_buffer=1_000, request_timeout_s=1)
    try:
        for i in range(1_000):
            emitter.observe("m", float(i))
        wait_until(lambda: len(emitter._buffer._pending) == 10)
        for i in range(1_000, 1_250):
            emitter.observe("m", float(i))
        # Three oldest records (300 points) made room for the 250 new points.
        assert emitter.dropped == 300
        assert emitter.buffered == 950
        assert held(emitter)[("m", "distribution", ())] == [float(i) for i in range(300, 1_250)]
    finally:
        emitter.close(timeout=0.5)


def test_observe_many_takes_arrays_and_keeps_what_fits() -> None:
    emitter = Emitter("svc", UNREACHABLE, batch_size=5_000, linger_ms=60_000, max_buffer=1_000, request_timeout_s=1)
    try:
        now = int(time.time() * 1000)
        assert emitter.observe_many("m", np.arange(600.0), ts_ms=np.arange(now - 600, now)) == 600
        assert emitter.observe_many("m", [1.5] * 600, route="/a") == 400
        assert emitter.dropped == 200 and emitter.buffered == 1_000
        with emitter._buffer.lock:
            first = next(s for s in emitter._buffer._dirty if not s.labels)
            assert list(first.ts) == list(range(now - 600, now))
        with pytest.raises(ValueError, match="one timestamp per value"):
            emitter.observe_many("m", [1.0, 2.0], ts_ms=[now])
        with pytest.raises(ValueError, match="one-dimensional"):
            emitter.observe_many("m", np.ones((2, 2)))
    finally:
        emitter.close(timeout=0.5)


def test_close_counts_unsent_points_and_drops_later_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[object] = []
    monkeypatch.setattr("ingest.sdk.emitter.atexit.register", registered.append)
    monkeypatch.setattr("ingest.sdk.emitter.atexit.unregister", registered.remove)
    emitter = Emitter("svc", UNREACHABLE, batch_size=100, linger_ms=20, request_timeout_s=1)
    assert len(registered) == 1
    for _ in range(500):
        emitter.count("requests", route="/a")
    started = time.monotonic()
    assert emitter.close(timeout=0.5) is False
    assert time.monotonic() - started < 3.0
    assert registered == []  # the atexit flush is unregistered
    assert emitter.buffered == 0 and emitter.dropped == 500
    emitter.count("requests")  # after close: dropped, never raises
    assert emitter.dropped == 501
    assert emitter.close() is False  # idempotent


# --------------------------------------------------------------------------- timer


def test_timer_as_sync_block_and_decorator(offline: Emitter) -> None:
    with offline.timer("block", step="a"):
        time.sleep(0.02)

    @offline.timer("call")
    def work(x: int) -> int:
        time.sleep(0.02)
        return x * 2

    assert work(21) == 42
    assert work.__name__ == "work"
    with pytest.raises(RuntimeError), offline.timer("block", step="a"):
        raise RuntimeError("timed anyway")
    values = held(offline)
    block = values[("block", "distribution", (("step", "a"),))]
    assert len(block) == 2 and 20.0 <= block[0] < 1_000.0 and block[1] < 20.0
    (call,) = values[("call", "distribution", ())]
    assert 20.0 <= call < 1_000.0


async def test_timer_as_async_block_and_decorator(offline: Emitter) -> None:
    async with offline.timer("block"):
        await asyncio.sleep(0.02)

    @offline.timer("call", kind="async")
    async def work(x: int) -> int:
        await asyncio.sleep(0.02)
        return x + 1

    assert await work(1) == 2
    assert list(await asyncio.gather(work(1), work(2))) == [2, 3]
    values = held(offline)
    (block,) = values[("block", "distribution", ())]
    assert 20.0 <= block < 1_000.0
    calls = values[("call", "distribution", (("kind", "async"),))]
    assert len(calls) == 3 and all(20.0 <= c < 1_000.0 for c in calls)


# --------------------------------------------------------------------------- against Kafka


def points(batches: list[tuple[bytes | None, MetricBatch]]) -> Counter[tuple[str, str, Key, float]]:
    """The multiset of (service, kind, series, value) in decoded records."""
    out = Counter[tuple[str, str, Key, float]]()
    for _, batch in batches:
        for s in batch.series:
            key = (s.name, s.kind.value, tuple(sorted(s.labels.items())))
            out.update((batch.service, s.kind.value, key, float(v)) for v in s.values)
    return out


@pytest.mark.integration
async def test_every_point_arrives_exactly_once(kafka_bootstrap: str, topics: Topics) -> None:
    sent = Counter[tuple[str, str, Key, float]]()
    emitter = Emitter("gateway", kafka_bootstrap, topic_prefix=topics.prefix, labels={"env": "test"}, batch_size=700)
    routes = ["/api/portfolio", "/api/quotes", "/api/orders", "/health"]
    for i in range(20_000):
        route = routes[i % 4]
        if i % 10 == 0:
            emitter.count("http.server.requests", 1.0, route=route, status_code="200")
            key: Key = ("http.server.requests", "counter", (("env", "test"), ("route", route), ("status_code", "200")))
            sent[("gateway", "counter", key, 1.0)] += 1
        elif i % 10 == 1:
            emitter.gauge("process.cpu.utilization", (i % 100) / 100)
            sent[("gateway", "gauge", ("process.cpu.utilization", "gauge", (("env", "test"),)), (i % 100) / 100)] += 1
        else:
            emitter.observe("http.server.duration", i * 0.25, route=route, method="GET")
            key = ("http.server.duration", "distribution", (("env", "test"), ("method", "GET"), ("route", route)))
            sent[("gateway", "distribution", key, i * 0.25)] += 1
    assert await emitter.aflush(timeout=30) is True
    assert emitter.sent == 20_000 and emitter.dropped == 0 and emitter.buffered == 0
    assert await emitter.aclose() is True

    batches = await read_batches(kafka_bootstrap, topics.metrics)
    assert points(batches) == sent
    assert all(key == b"gateway" for key, _ in batches)
    assert all(batch.n_points <= 700 for _, batch in batches)
    assert len(batches) >= 20_000 // 700


@pytest.mark.integration
async def test_async_caller_with_async_context_manager(kafka_bootstrap: str, topics: Topics) -> None:
    async with Emitter("frontend", kafka_bootstrap, topic_prefix=topics.prefix, linger_ms=20) as emitter:

        @emitter.timer("ws.message.latency")
        async def handle() -> None:
            await asyncio.sleep(0.001)

        await asyncio.gather(*(handle() for _ in range(50)))
        emitter.observe_many("http.server.duration", np.linspace(1.0, 100.0, 500), route="/")
        wait_until(lambda: emitter.sent == 550, timeout=10)  # sent within linger, without a flush
    assert emitter.sent == 550 and emitter.dropped == 0
    batches = await read_batches(kafka_bootstrap, topics.metrics)
    assert sum(batch.n_points for _, batch in batches) == 550


@pytest.mark.integration
async def test_points_buffered_while_kafka_is_down_are_sent_once_it_is_back(
    kafka_bootstrap: str, topics: Topics
) -> None:
    async with tcp_proxy(kafka_bootstrap) as (address, up):
        emitter = Emitter("orchestrator", address, topic_prefix=topics.prefix, batch_size=100, linger_ms=20,
                          request_timeout_s=1)  # fmt: skip
        for i in range(1_000):
            emitter.observe("ai.task.duration", float(i), task_type="analysis")
        assert await emitter.aflush(timeout=0.5) is False
        assert emitter.buffered == 1_000 and emitter.sent == 0
        up.set()
        assert await emitter.aflush(timeout=30) is True
        assert emitter.sent == 1_000 and emitter.dropped == 0
        await emitter.aclose()
    batches = await read_batches(kafka_bootstrap, topics.metrics)
    values = sorted(v for _, batch in batches for s in batch.series for v in s.values.tolist())
    assert values == [float(i) for i in range(1_000)]


@pytest.mark.integration
async def test_many_threads_record_concurrently(kafka_bootstrap: str, topics: Topics) -> None:
    emitter = Emitter("gateway", kafka_bootstrap, topic_prefix=topics.prefix, batch_size=500)

    def work(thread: int) -> None:
        for i in range(5_000):
            emitter.observe("http.server.duration", float(i), thread=str(thread))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert await emitter.aclose(timeout=30) is True
    batches = await read_batches(kafka_bootstrap, topics.metrics)
    expected = Counter(
        ("gateway", "distribution", ("http.server.duration", "distribution", (("thread", str(t)),)), float(i))
        for t in range(4)
        for i in range(5_000)
    )
    assert points(batches) == expected


@pytest.mark.integration
async def test_points_are_flushed_at_interpreter_exit(kafka_bootstrap: str, topics: Topics) -> None:
    script = (
        "from ingest import Emitter\n"
        f"e = Emitter('frontend', {kafka_bootstrap!r}, topic_prefix={topics.prefix!r}, linger_ms=60_000)\n"
        "for i in range(3_000):\n"
        "    e.observe('ws.message.latency', float(i))\n"
    )  # no flush, no close: the atexit hook sends the points
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=str(REPO))
    assert await asyncio.wait_for(process.wait(), 60) == 0
    batches = await read_batches(kafka_bootstrap, topics.metrics)
    values = sorted(v for _, batch in batches for s in batch.series for v in s.values.tolist())
    assert values == [float(i) for i in range(3_000)]


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test's own, so that killing it disturbs no other test."""
    broker = LocalKafka(tmp_path / "kafka", port=free_broker_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.mark.integration
async def test_no_loss_and_no_duplicate_when_the_broker_is_killed(private_broker: LocalKafka) -> None:
    """SIGKILL the broker mid-stream and restart it: every point arrives exactly once.

    Records in flight at the kill may have been written without their acknowledgement reaching
    the producer; its retries keep their sequence numbers, so the broker discards the copies.
    """
    topics = Topics("kill.")
    await ensure_topics(private_broker.bootstrap, topics, partitions=4)
    emitter = Emitter("gateway", private_broker.bootstrap, topic_prefix=topics.prefix, batch_size=200,
                      linger_ms=20, request_timeout_s=2)  # fmt: skip
    stop, recorded = threading.Event(), [0]

    def produce() -> None:  # ~10k points/s: the outage fits in the buffer
        while not stop.is_set():
            for _ in range(100):
                emitter.observe("http.server.duration", float(recorded[0]), route="/a")
                recorded[0] += 1
            time.sleep(0.01)

    thread = threading.Thread(target=produce)
    thread.start()
    try:
        await asyncio.sleep(1.5)
        sent_before_kill = emitter.sent
        pid = private_broker.running_pid()
        assert pid is not None and sent_before_kill > 0
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(3.0)  # longer than request_timeout_s
        await asyncio.to_thread(private_broker.start)
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        thread.join()
    assert await emitter.aflush(timeout=60) is True
    assert emitter.dropped == 0 and emitter.sent == recorded[0]
    await emitter.aclose()
    batches = await read_batches(private_broker.bootstrap, topics.metrics)
    values = sorted(v for _, batch in batches for s in batch.series for v in s.values.tolist())
    assert values == [float(i) for i in range(recorded[0])]
