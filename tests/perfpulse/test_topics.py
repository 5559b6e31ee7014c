"""Topics on the real Kafka: created once with the partition counts the stages rely on, read back
only once the broker serves them, and a topic of the wrong shape refused by name."""

from __future__ import annotations

import re
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from perfpulse.topics import TopicSetupError, ensure_topics
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
