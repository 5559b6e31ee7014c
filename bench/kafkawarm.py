"""Warm the bench's Kafka broker before the first scenario: records through a throwaway topic,
produced and consumed at once for a few seconds.

A broker just started runs its hot paths (log append, checksums, fetch) interpreted until the JVM's
JIT compilers have compiled them, and the compiling takes CPU of its own (C2 used 0.43 of a core in
a broker's first minute under the spans scenario's load). A deployment's broker has long been warm;
on a cold one, the scenario that happened to run first paid for it. Throughput scenario alone
(2026-12-06, 5M points): cold broker 437,374-486,639 points/s in 6 runs; after this warm-up
475,927-480,783 in 3; after 30 s of the freshness scenario instead 520,905-521,268 in 2. Produced at
16 MB/s: unthrottled (3 GB in 20 s), 407,075-527,645 in 3 runs.
"""

from __future__ import annotations

import asyncio
import os
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

__all__ = ["warm_kafka"]

_RECORD = os.urandom(30_000)  # about a metrics record of 1,000 points
_PARTITIONS = 4
_RATE = 16e6  # bytes/s, the throughput scenario's (5M points of ~33 bytes in ~10 s): not gigabytes
# of dirty pages for the disk to write back while the first scenario runs


async def _warm(bootstrap: str, seconds: float) -> tuple[int, int, list[KafkaError]]:
    topic = f"bench-warmup-{time.time_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=_PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1 << 20)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    sent = received = 0
    failures: list[KafkaError] = []
    reading: asyncio.Task[None] | None = None
    try:
        deadline = time.monotonic() + seconds

        async def consume() -> None:
            nonlocal received
            while time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    received += len(records)

        reading = asyncio.create_task(consume())
        started = time.monotonic()
        while time.monotonic() < deadline:
            acknowledged, error = await _round(producer, topic)
            sent += acknowledged
            if error is not None:
                failures.append(error)
                await asyncio.sleep(0.5)
            await asyncio.sleep(max(0.0, started + sent * len(_RECORD) / _RATE - time.monotonic()))
        await reading
    finally:
        if reading is not None:  # the sends failed: it must not outlive its consumer
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
    return sent, received, failures


async def _round(producer: AIOKafkaProducer, topic: str) -> tuple[int, KafkaError | None]:
    """16 records over the partitions: how many the broker acknowledged, and the error of the
    others when it is one to try again (a broker just started may have no leader or connection ready
    yet: NotLeaderForPartitionError, NodeNotReadyError); any other error is raised."""
    pending: list[asyncio.Future[object]] = []
    refused: list[BaseException] = []  # a send refused before it was queued
    try:
        for k in range(16):
            pending.append(await producer.send(topic, _RECORD, partition=k % _PARTITIONS))
    except KafkaError as exc:
        refused.append(exc)
    # The sends queued before a refusal are awaited too: counted, and none left unretrieved.
    outcomes = [*await asyncio.gather(*pending, return_exceptions=True), *refused]
    failed: list[KafkaError] = []
    for outcome in outcomes:
        if isinstance(outcome, KafkaError) and outcome.retriable:
            failed.append(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
    return len(outcomes) - len(failed), failed[-1] if failed else None


def warm_kafka(bootstrap: str, seconds: float = 30.0) -> str:
    """Produce and consume records on ``bootstrap`` for ``seconds``; say how many, and how many rounds
    of sends a retriable error made it try again."""
    sent, received, failures = asyncio.run(_warm(bootstrap, seconds))
    said = f"{sent:,} records of {len(_RECORD) // 1000} KB produced and {received:,} consumed in {seconds:.0f} s"
    return said + (f"; {len(failures)} rounds tried again, the last after: {failures[-1]}" if failures else "")
