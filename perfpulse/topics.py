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


async def ensure_topics(bootstrap: str, topics: Topics, partitions: int, timeout_s: float = 30.0) -> dict[str, int]:
    """Create every perfpulse topic that does not exist yet; idempotent.

    ``rollups`` and ``alerts`` have one partition per partition of ``metrics`` and of ``spans``:
    partition N carries what the stream stage computed from metrics partition N, partition P + N
    what it computed from spans partition N (P = metrics partitions). Their consumers'
    de-duplication relies on that one-to-one mapping (each has exactly one source partition). Returns the partition
    count of each of those three topics as they are.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=2 * partitions if name in (topics.rollups, topics.alerts) else partitions,
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
        described = await admin.describe_topics([topics.metrics, topics.spans, topics.rollups, topics.alerts])
        counts = {d["topic"]: len(d["partitions"]) for d in described}
        sources = counts.get(topics.metrics, 0) + counts.get(topics.spans, 0)
        for derived in (topics.rollups, topics.alerts):
            if counts.get(derived) != sources:
                raise TopicSetupError(
                    f"cannot use topic {derived} with {counts.get(derived)} partitions: it needs one per "
                    f"partition of {topics.metrics} and {topics.spans} ({sources})"
                )
        return counts
    except (TimeoutError, KafkaError, OSError) as exc:
        raise TopicSetupError(f"cannot create topics on {bootstrap}: {exc!r}") from exc
    finally:
        await admin.close()
