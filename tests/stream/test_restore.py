"""Restoring a partition's alert state: the last record of its ``alert-states`` partition, on real Kafka."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas import RecordType, Topics, type_headers
from schemas.alerts import State, StateEntry, StatesRecord, encode_states
from stream.restore import last_states

pytestmark = pytest.mark.integration


def snapshot(partition: int, tick: int) -> StatesRecord:
    entry = StateEntry(
        "slow", {"service": "gateway"}, State.PENDING, 250.0, tick * 1_000, tick * 1_000, None, None, None
    )
    return StatesRecord(partition, tick, tick * 1_000, (entry,))


async def produce(bootstrap: str, topic: str, records: list[tuple[int, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, value in records:
            await producer.send_and_wait(
                topic, value, key=str(partition).encode(), partition=partition,
                headers=type_headers(RecordType.ALERT_STATES),
            )  # fmt: skip
    finally:
        await producer.stop()


async def test_the_last_snapshot_of_the_partition_is_restored(kafka_bootstrap: str, topics: Topics) -> None:
    records = [(3, encode_states(snapshot(3, tick))) for tick in (10, 20, 30)]
    await produce(kafka_bootstrap, topics.alert_states, [*records, (4, encode_states(snapshot(4, 99)))])
    assert await last_states(kafka_bootstrap, topics.alert_states, 3) == snapshot(3, 30)
    assert await last_states(kafka_bootstrap, topics.alert_states, 4) == snapshot(4, 99)


async def test_a_partition_without_snapshots_restores_nothing(kafka_bootstrap: str, topics: Topics) -> None:
    assert await last_states(kafka_bootstrap, topics.alert_states, 0) is None


async def test_an_unreadable_last_record_restores_nothing(kafka_bootstrap: str, topics: Topics) -> None:
    await produce(kafka_bootstrap, topics.alert_states, [(1, encode_states(snapshot(1, 10))), (1, b"{broken")])
    assert await last_states(kafka_bootstrap, topics.alert_states, 1) is None


async def test_the_states_topic_is_compacted_and_laid_out_as_alerts(kafka_bootstrap: str, topics: Topics) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topics.alerts, topics.alert_states])
        [config] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topics.alert_states)])
    finally:
        await admin.close()
    assert [len(d["partitions"]) for d in described] == [8, 8]
    entries = {name: value for name, value, *_ in config.resources[0][4]}
    assert entries["cleanup.policy"] == "compact"
