"""Creating perfpulse's Kafka topics, with the partition counts the stages rely on."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas import Topics

__all__ = ["TopicSetupError", "ensure_topics"]


class TopicSetupError(RuntimeError):
    """Topics could not be created or have the wrong shape."""


# Raw data is replayed by the sink and the stream stage after restarts; rollups and alerts are small.
_RETENTION_MS = {"metrics": 2 * 86_400_000, "spans": 2 * 86_400_000, "logs": 2 * 86_400_000}


async def ensure_topics(bootstrap: str, topics: Topics, partitions: int, timeout_s: float = 30.0) -> None:
    """Create every perfpulse topic that does not exist yet; idempotent.

    ``rollups`` must have as many partitions as ``metrics``: partition N of rollups carries what the
    stream stage computed from partition N of metrics (the sink's de-duplication relies on it).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs={
                    "retention.ms": str(_RETENTION_MS.get(name.removeprefix(topics.prefix), 7 * 86_400_000))
                },
            )
            for name in topics.all()
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
        described = await admin.describe_topics([topics.metrics, topics.rollups])
        counts = {d["topic"]: len(d["partitions"]) for d in described}
        if counts.get(topics.metrics) != counts.get(topics.rollups):
            raise TopicSetupError(
                f"cannot use topics {topics.metrics} ({counts.get(topics.metrics)} partitions) and "
                f"{topics.rollups} ({counts.get(topics.rollups)} partitions): they must have the same count"
            )
    except (TimeoutError, KafkaError, OSError) as exc:
        raise TopicSetupError(f"cannot create topics on {bootstrap}: {exc!r}") from exc
    finally:
        await admin.close()
