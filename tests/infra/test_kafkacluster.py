"""A three-node local Kafka cluster with perfpulse's production durability (replication factor 3,
min.insync.replicas 2): the broker leading partition 0 is killed (SIGKILL) mid-run; every record
perfpulse's producer had acknowledged is there once, and writes go on with two brokers."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.kafkacluster import LocalKafkaCluster
from ingest.producer import KafkaUnavailable, RecordProducer
from perfpulse.topics import TopicDurability, ensure_topics
from schemas import MetricBatch, MetricKind, SeriesPoints, Topics, decode_metrics_record
from tests.ports import free_broker_port

pytestmark = pytest.mark.integration

PRODUCTION = TopicDurability(replication_factor=3, min_insync_replicas=2)
PER_PHASE = 100  # acknowledged sends before the kill, and after it


def _batch(service: str) -> MetricBatch:
    ts = np.array([time.time_ns() // 1_000_000], dtype=np.int64)
    return MetricBatch(service, [SeriesPoints("lat", MetricKind.DISTRIBUTION, {}, ts, np.array([1.0]))])


async def _leader(bootstrap: str, topic: str, partition: int) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return int(next(p["leader"] for p in described["partitions"] if p["partition"] == partition))


async def _send_until(producer: RecordProducer, acknowledged: list[str], count: int, deadline_s: float) -> int:
    """Send one batch per call (a new service each) until ``count`` more were acknowledged; returns
    how many sends failed (refused or unanswered while the cluster moved leaders)."""
    failed, goal, deadline = 0, len(acknowledged) + count, time.monotonic() + deadline_s
    while len(acknowledged) < goal:
        assert time.monotonic() < deadline, f"{len(acknowledged)} of {goal} acknowledged, {failed} failed"
        service = f"svc-{uuid.uuid4().hex[:12]}"
        try:
            await producer.send_metrics([_batch(service)], timeout_s=5)
        except KafkaUnavailable:
            failed += 1
            continue
        acknowledged.append(service)
    return failed


async def _stored(bootstrap: str, topic: str, partitions_count: int) -> collections.Counter[str]:
    """How often each service's batch is in ``topic``, read to its end on every partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partitions_count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        seen: collections.Counter[str] = collections.Counter()
        async with asyncio.timeout(60):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        decoded = decode_metrics_record(record.value or b"")
                        assert isinstance(decoded, MetricBatch)
                        seen[decoded.service] += 1
        return seen
    finally:
        await consumer.stop()


async def _run(cluster: LocalKafkaCluster) -> tuple[list[str], int, collections.Counter[str]]:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    await ensure_topics(cluster.bootstrap, topics, partitions=2, durability=PRODUCTION)
    victim = cluster.nodes[await _leader(cluster.bootstrap, topics.metrics, 0) - 1]
    producer = RecordProducer(cluster.bootstrap, topics, request_timeout_s=10)
    acknowledged: list[str] = []
    try:
        assert await _send_until(producer, acknowledged, PER_PHASE, 60) == 0
        pid = victim.running_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        failed = await _send_until(producer, acknowledged, PER_PHASE, 90)
    finally:
        await producer.stop()
    return acknowledged, failed, await _stored(cluster.bootstrap, topics.metrics, 2)


def test_a_broker_killed_mid_run_loses_nothing_acknowledged(tmp_path: Path) -> None:
    cluster = LocalKafkaCluster(tmp_path / "cluster", ports=tuple(free_broker_port() for _ in range(3)))
    cluster.start()
    try:
        acknowledged, failed, stored = asyncio.run(_run(cluster))
    finally:
        cluster.stop()
    assert len(acknowledged) == 2 * PER_PHASE
    assert {service: stored[service] for service in acknowledged} == dict.fromkeys(acknowledged, 1)
    # Sends that failed while leaders moved may or may not be stored; nothing else is there.
    assert len(stored) <= len(acknowledged) + failed
