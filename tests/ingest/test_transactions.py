"""Transactional sends (the receivers' producer): a call is all or nothing for a ``read_committed``
consumer, calls arriving together share a transaction, a failed one leaves nothing visible."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest.groupcommit import GroupCommit
from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected, _Placed, log_records
from schemas import RecordType, Topics, decode_logs, type_headers
from tests.ingest.helpers import read_messages, read_records
from tests.ingest.test_producer import make_batch
from tests.storage.telemetry import log

SMALL_RECORDS = 4_096  # max.message.bytes of the test's topic: a 1,000-point batch is larger


async def topic_refusing_large_records(bootstrap: str) -> Topics:
    """Topics of their own: ``metrics`` (one partition) refuses records past :data:`SMALL_RECORDS`
    bytes (the producer's own limit is far above); ``logs`` (one partition) takes them."""
    topics = Topics(f"tx{uuid.uuid4().hex[:10]}.")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"max.message.bytes": str(SMALL_RECORDS)}
        await admin.create_topics([NewTopic(topics.metrics, 1, 1, topic_configs=config), NewTopic(topics.logs, 1, 1)])
    finally:
        await admin.close()
    return topics


async def test_a_failed_transaction_leaves_nothing_visible_and_the_retry_is_stored_once(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "perfpulse.ingest.producer")
    topics = await topic_refusing_large_records(kafka_bootstrap)
    producer = RecordProducer(kafka_bootstrap, topics, transactional_id=f"test-{topics.prefix}")
    try:
        await producer.start()
        logs = [[log(time.time() * 1000, f"line {i}") for i in range(200)]]
        # Submitted together, the two calls share one transaction: the logs are acknowledged, the
        # large batch refused by the broker, so the transaction is never committed.
        outcomes = await asyncio.gather(
            producer.send_logs(logs), producer.send_metrics([make_batch("orchestrator", 1_000)]), return_exceptions=True
        )
        assert isinstance(outcomes[0], KafkaUnavailable), outcomes[0]
        assert isinstance(outcomes[1], RecordRejected), outcomes[1]
        # the operator is told why those requests were answered 503
        assert "a transaction of 2 requests was not committed: a record failed" in caplog.text
        assert "MessageSizeTooLarge" in caplog.text
        uncommitted = await read_messages(kafka_bootstrap, topics.logs, "read_uncommitted")
        assert [m.key for m in uncommitted] == [b"gateway"]  # sent and acknowledged, then aborted
        assert await read_records(kafka_bootstrap, topics.logs) == []  # what the stream and sink see

        await producer.send_logs(logs)  # the client's retry, on a producer that fenced the first
        stored = await read_records(kafka_bootstrap, topics.logs)
        assert [len(decode_logs(value)) for _, _, value in stored] == [200]
    finally:
        await producer.stop()


async def test_calls_arriving_together_share_one_transaction(kafka_bootstrap: str, topics: Topics) -> None:
    producer = RecordProducer(kafka_bootstrap, topics, transactional_id=f"test-{topics.prefix}")
    try:
        await producer.start()
        await asyncio.gather(*(producer.send_metrics([make_batch(f"s{i}", 5)]) for i in range(20)))
        messages = await read_messages(kafka_bootstrap, topics.metrics)
        assert sorted(m.key for m in messages) == sorted(f"s{i}".encode() for i in range(20))
        # One commit marker per partition written to, not one per call: offsets of one partition
        # are consecutive but for the single marker after them.
        by_partition: dict[int, list[int]] = {}
        for m in messages:
            by_partition.setdefault(m.partition, []).append(m.offset)
        for offsets in by_partition.values():
            assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), offsets
    finally:
        await producer.stop()


async def test_a_restarted_producer_fences_its_predecessor(kafka_bootstrap: str, topics: Topics) -> None:
    """A process killed mid-transaction: the next with its transactional id aborts what it left
    open at start, so a ``read_committed`` reader is not held until the transaction timeout."""
    transactional_id = f"test-{topics.prefix}"
    dead = RecordProducer(kafka_bootstrap, topics, transactional_id=transactional_id)
    await dead.start()
    kafka = dead._producer
    await kafka.begin_transaction()
    await (await kafka.send(topics.metrics, b"lost", key=b"gateway", partition=0))  # acknowledged, never committed
    successor = RecordProducer(kafka_bootstrap, topics, transactional_id=transactional_id, transaction_timeout_s=60)
    try:
        await successor.send_metrics([make_batch("gateway", 3)])
        async with asyncio.timeout(10):  # far below the 60 s transaction timeout
            stored = await read_records(kafka_bootstrap, topics.metrics)
        assert [value for _, _, value in stored if value == b"lost"] == []
        assert len(stored) == 1
    finally:
        await successor.stop()
        await dead.stop()


async def test_calls_while_a_transaction_commits_start_the_next_on_the_second_lane(
    kafka_bootstrap: str, topics: Topics
) -> None:
    producer = RecordProducer(kafka_bootstrap, topics, transactional_id=f"test-{topics.prefix}", transactions_at_once=2)

    async def call(i: int) -> None:
        await asyncio.sleep(i * 0.002)  # 40 calls over 80 ms: some arrive while a transaction commits
        await producer.send_metrics([make_batch(f"s{i}", 5)])

    try:
        await asyncio.gather(*(call(i) for i in range(40)))
        messages = await read_messages(kafka_bootstrap, topics.metrics)
        assert sorted(m.key for m in messages) == sorted(f"s{i}".encode() for i in range(40))  # each once
        [second] = producer._lanes
        assert producer.transactions_committed > 0 and second.transactions_committed > 0
    finally:
        await producer.stop()
    assert not second.started


async def test_a_restarted_producer_fences_the_open_transaction_of_each_lane(
    kafka_bootstrap: str, topics: Topics
) -> None:
    """Whether a dead process committed a request (its idempotency key's witness): the successor
    starts every lane, so a transaction the second lane left open is aborted at once, not after the
    transaction timeout (which the 5 s of :meth:`RecordProducer.committed` would not outlast)."""
    transactional_id = f"test-{topics.prefix}"
    dead = RecordProducer(
        kafka_bootstrap, topics, transactional_id=transactional_id, transaction_timeout_s=60, transactions_at_once=2
    )
    [dead_second] = dead._lanes
    await dead_second.start()
    kafka = dead_second._producer
    await kafka.begin_transaction()
    placed = await (await kafka.send(topics.metrics, b"lost", key=b"gateway", partition=0))
    successor = RecordProducer(
        kafka_bootstrap, topics, transactional_id=transactional_id, transaction_timeout_s=60, transactions_at_once=2
    )
    try:
        assert await successor.committed(topics.metrics, 0, placed.offset, timeout_s=5) is False
    finally:
        await successor.stop()
        await dead.stop()


async def log_end(bootstrap: str, topic: str) -> int:
    """The end offset of ``topic``'s partition 0 (records and transaction markers alike)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_uncommitted")
    await consumer.start()
    try:
        place = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([place]))[place])
    finally:
        await consumer.stop()


async def test_the_producer_after_a_failed_one_writes_the_last_commits_markers_again(kafka_bootstrap: str) -> None:
    """A broker stopped while completing a commit can leave a partition without its marker; the
    producer replacing a failed one therefore commits an empty transaction over the partitions of
    the last commit (ingest/producer.py). Seen here as one more offset, a marker, on the logs
    partition, and no record more."""
    topics = await topic_refusing_large_records(kafka_bootstrap)
    producer = RecordProducer(kafka_bootstrap, topics, transactional_id=f"test-{topics.prefix}")
    try:
        await producer.send_logs([[log(time.time() * 1000, "committed")]])
        committed_end = await log_end(kafka_bootstrap, topics.logs)
        with pytest.raises(RecordRejected):  # the transaction fails: the producer is replaced
            await producer.send_metrics([make_batch("orchestrator", 1_000)])
        assert await log_end(kafka_bootstrap, topics.logs) == committed_end

        await producer.send_metrics([make_batch("orchestrator", 3)])  # on the producer replacing it
        assert await log_end(kafka_bootstrap, topics.logs) == committed_end + 1
        assert [len(decode_logs(value)) for _, _, value in await read_records(kafka_bootstrap, topics.logs)] == [1]

        await producer.send_metrics([make_batch("orchestrator", 3)])  # nothing failed since: no marker more
        assert await log_end(kafka_bootstrap, topics.logs) == committed_end + 1
    finally:
        await producer.stop()


async def test_the_producer_after_a_failed_one_sends_again_the_last_commits_records_kafka_aborted(
    kafka_bootstrap: str,
) -> None:
    """A commit whose marker Kafka dropped, then closed by the abort of the next transaction (seen
    in the Kafka-restart fault test): made here by aborting a record of another producer and giving
    it to the producer as its last commit's. The producer replacing a failed one reads it back
    aborted and sends it again, once; a record read back committed is not sent again."""
    topics = await topic_refusing_large_records(kafka_bootstrap)
    producer = RecordProducer(kafka_bootstrap, topics, transactional_id=f"test-{topics.prefix}")
    other = RecordProducer(kafka_bootstrap, topics, transactional_id=f"test-other-{topics.prefix}")
    lost = log(time.time() * 1000, "acknowledged, then aborted by Kafka")
    try:
        await producer.send_logs([[log(time.time() * 1000, "committed")]])
        ((key, value, what),) = log_records([[lost]])
        headers = type_headers(RecordType.LOGS)
        await other.start()
        kafka = other._producer
        await kafka.begin_transaction()
        placed = await (await kafka.send(topics.logs, value, key=key, headers=headers))
        await kafka.abort_transaction()
        place = TopicPartition(topics.logs, placed.partition)
        producer._last_committed = [_Placed(topics.logs, headers, (key, value, what), place, placed.offset)]
        with pytest.raises(RecordRejected):  # the transaction fails: the producer is replaced
            await producer.send_metrics([make_batch("orchestrator", 1_000)])

        await producer.send_metrics([make_batch("orchestrator", 3)])  # on the producer replacing it
        stored = [decode_logs(value) for _, _, value in await read_records(kafka_bootstrap, topics.logs)]
        assert [[r.message for r in records] for records in stored] == [["committed"], [lost.message]]

        # The last commit's record at offset 0, the committed one, which reads back committed.
        producer._last_committed = [_Placed(topics.logs, headers, (key, value, what), place, 0)]
        with pytest.raises(RecordRejected):
            await producer.send_metrics([make_batch("orchestrator", 1_000)])
        await producer.send_metrics([make_batch("orchestrator", 3)])
        assert len(await read_records(kafka_bootstrap, topics.logs)) == 2  # read back committed: not sent again
    finally:
        await producer.stop()
        await other.stop()


async def test_group_commit_gives_each_item_its_outcome() -> None:
    groups: list[list[int]] = []

    async def commit(items: list[int]) -> list[BaseException | None]:
        groups.append(items)
        await asyncio.sleep(0.01)
        return [ValueError(f"odd {i}") if i % 2 else None for i in items]

    group = GroupCommit(commit)
    outcomes = await asyncio.gather(*(group.submit(i) for i in range(5)), return_exceptions=True)
    assert [None if o is None else str(o) for o in outcomes] == [None, "odd 1", None, "odd 3", None]
    assert groups == [[0, 1, 2, 3, 4]]
    first = asyncio.ensure_future(group.submit(10))
    await asyncio.sleep(0)  # the first group is committing: the next two join the following one
    await asyncio.gather(first, group.submit(12), group.submit(14))
    assert groups[1:] == [[10], [12, 14]]


async def test_group_commit_starts_a_group_on_a_free_lane_while_another_commits() -> None:
    groups: list[tuple[str, list[int]]] = []
    held = {"a": asyncio.Event(), "b": asyncio.Event()}

    def lane(name: str) -> Callable[[list[int]], Awaitable[list[BaseException | None]]]:
        async def commit(items: list[int]) -> list[BaseException | None]:
            groups.append((name, items))
            await held[name].wait()
            return [None] * len(items)

        return commit

    async def settle() -> None:  # let the submitters and the lanes' tasks run as far as they can
        for _ in range(5):
            await asyncio.sleep(0)

    group = GroupCommit(lane("a"), lane("b"))
    first = asyncio.ensure_future(group.submit(1))
    await settle()  # lane a commits [1] and holds
    second = asyncio.ensure_future(group.submit(2))
    await settle()  # lane b commits [2] at once, not after lane a
    assert groups == [("a", [1]), ("b", [2])]
    later = [asyncio.ensure_future(group.submit(i)) for i in (3, 4)]
    await settle()  # both lanes busy: 3 and 4 wait together for the first lane that frees
    assert len(groups) == 2
    held["b"].set()
    await asyncio.gather(second, *later)
    assert groups[2:] == [("b", [3, 4])] and not first.done()
    held["a"].set()
    await first


async def test_group_commit_failure_is_every_items() -> None:
    async def commit(items: list[int]) -> list[BaseException | None]:
        raise KafkaUnavailable(f"down for {items}")

    group = GroupCommit(commit)
    with pytest.raises(KafkaUnavailable, match=r"down for \[1\]"):
        await group.submit(1)
