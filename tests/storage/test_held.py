"""storage/held.py: a partition whose readers an open transaction holds is told once it has been
held past the limit, and released when the transaction ends; against a real broker."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from storage.held import HeldPartitions, log


def held_seconds(tp: TopicPartition) -> float | None:
    return REGISTRY.get_sample_value(
        "perfpulse_sink_partition_held_seconds", {"topic": tp.topic, "partition": str(tp.partition)}
    )


async def fetch(consumer: AIOKafkaConsumer) -> None:
    """One fetch round: the consumer learns each partition's end and last stable offset."""
    await consumer.getmany(timeout_ms=300)


async def test_an_open_transaction_is_told_past_the_limit_and_released_when_it_ends(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"held-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    held_tp, free_tp = TopicPartition(topic, 0), TopicPartition(topic, 1)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"held-{topic}", transaction_timeout_ms=60_000
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, isolation_level="read_committed")
    await producer.start()
    await consumer.start()
    try:
        async with producer.transaction():
            await (await producer.send(topic, b"committed", partition=free_tp.partition))
            for value in (b"first", b"second"):  # offsets 0 and 1 of the held partition, its marker 2
                await (await producer.send(topic, value, partition=held_tp.partition))
        await producer.begin_transaction()
        await (await producer.send(topic, b"open", partition=held_tp.partition))  # offset 3
        consumer.assign([held_tp, free_tp])
        await consumer.seek_to_beginning()
        held = HeldPartitions(after_s=1.0)

        first = (await consumer.getmany(held_tp, timeout_ms=5_000, max_records=1))[held_tp]
        assert [r.value for r in first] == [b"first"]
        start = time.monotonic()
        assert await held.check(consumer, start) == []
        assert await held.check(consumer, start + 1.5) == []  # open for long, but "second" is still to be read
        while await consumer.position(held_tp) < 3:
            await fetch(consumer)
        assert await held.check(consumer, start + 2.0) == []  # at the open transaction: not for long yet
        with caplog.at_level(logging.ERROR, logger=log.name):
            found = await held.check(consumer, start + 3.5)
            assert [(h.partition, h.stable, h.end) for h in found] == [(held_tp, 3, 4)]
            assert held_seconds(held_tp) == pytest.approx(1.5)
            await held.check(consumer, start + 4.0)  # still held: told once
        # Only the tracker's own records: aiokafka may log a retried produce in the same span.
        told = [r.getMessage() for r in caplog.records if r.name == log.name]
        assert len(told) == 1 and f"partition {topic}-0" in told[0] and "held at offset 3" in told[0], told

        await producer.commit_transaction()
        await fetch(consumer)
        await fetch(consumer)
        assert await held.check(consumer, start + 5.0) == []
        assert held_seconds(held_tp) == 0
        assert held_seconds(free_tp) is None  # never held
    finally:
        await consumer.stop()
        await producer.stop()
