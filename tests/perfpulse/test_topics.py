"""Topics on the real Kafka: created once with the partition counts the stages rely on and the
retention and min.insync.replicas the settings ask for, read back only once the broker serves them,
and a topic of the wrong shape or a replication factor the cluster cannot hold refused by name."""

from __future__ import annotations

import re
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from perfpulse.settings import Settings
from perfpulse.topics import TopicDurability, TopicSetupError, ensure_topics
from schemas import Topics

pytestmark = pytest.mark.integration


async def test_fresh_topics_report_their_partitions_at_once_and_twice_the_same(kafka_bootstrap: str) -> None:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    # Read straight after creation: a broker still catching up answered "unknown topic" then, and
    # the counts came back 0.
    counts = await ensure_topics(kafka_bootstrap, topics, partitions=3)
    assert counts == {topics.metrics: 3, topics.spans: 3, topics.rollups: 6, topics.alerts: 6, topics.alert_states: 6}
    assert await ensure_topics(kafka_bootstrap, topics, partitions=5) == counts  # existing topics are kept


async def test_a_derived_topic_of_the_wrong_size_is_refused_by_name(kafka_bootstrap: str) -> None:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topics.rollups, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    with pytest.raises(TopicSetupError, match=re.escape(f"cannot use topic {topics.rollups} with 2 partitions")):
        await ensure_topics(kafka_bootstrap, topics, partitions=4)


async def test_an_unreachable_broker_is_named() -> None:
    with pytest.raises(TopicSetupError, match=r"cannot create topics on 127\.0\.0\.1:1"):
        await ensure_topics("127.0.0.1:1", Topics("x."), partitions=1, timeout_s=2)


async def test_topics_get_the_retention_and_min_insync_replicas_asked_for(kafka_bootstrap: str) -> None:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    durability = TopicDurability(min_insync_replicas=1, raw_retention_ms=3_600_000, retention_ms=7_200_000)
    await ensure_topics(kafka_bootstrap, topics, partitions=1, durability=durability)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        names = [topics.metrics, topics.logs, topics.rollups, topics.alert_states]
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    configs = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4] if entry[0] in _CHECKED}
        for resource in response.resources
    }
    del configs[topics.alert_states]["retention.ms"]  # the broker's default: compaction keeps its records
    assert configs == {
        topics.metrics: {"retention.ms": "3600000", "min.insync.replicas": "1", "cleanup.policy": "delete"},
        topics.logs: {"retention.ms": "3600000", "min.insync.replicas": "1", "cleanup.policy": "delete"},
        topics.rollups: {"retention.ms": "7200000", "min.insync.replicas": "1", "cleanup.policy": "delete"},
        topics.alert_states: {"min.insync.replicas": "1", "cleanup.policy": "compact"},
    }


_CHECKED = {"retention.ms", "min.insync.replicas", "cleanup.policy"}


async def test_a_replication_factor_above_the_broker_count_is_refused_with_the_brokers_reason(
    kafka_bootstrap: str,
) -> None:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    production = TopicDurability(replication_factor=3, min_insync_replicas=2)
    with pytest.raises(TopicSetupError, match=r"cannot create topic t\w+\.\w+: Unable to replicate the partition 3"):
        await ensure_topics(kafka_bootstrap, topics, partitions=1, durability=production)


def test_settings_carry_the_durability_and_refuse_more_insync_replicas_than_replicas() -> None:
    settings = Settings(
        kafka_replication_factor=3, kafka_min_insync_replicas=2, kafka_raw_retention="12h", kafka_retention="3d"
    )
    assert TopicDurability.of(settings) == TopicDurability(3, 2, 12 * 3_600_000, 3 * 86_400_000)
    assert TopicDurability.of(Settings()) == TopicDurability()  # one local broker: 1, 1, 48 h, 7 d
    with pytest.raises(ValueError, match="kafka_min_insync_replicas 2 is more than kafka_replication_factor 1"):
        Settings(kafka_min_insync_replicas=2)
