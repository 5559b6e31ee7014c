"""Creating perfpulse's Kafka topics, with the partition counts the stages rely on and the
durability (replication, min.insync.replicas, retention) the settings ask for."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from perfpulse.settings import Settings
from schemas import Topics, parse_duration_ms
from schemas.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["TopicDurability", "TopicSetupError", "ensure_settings_topics", "ensure_topics"]


class TopicSetupError(RuntimeError):
    """Topics could not be created or have the wrong shape."""


@dataclass(frozen=True)
class TopicDurability:
    """How topics are kept. The defaults fit one local broker; production runs replication_factor 3
    and min_insync_replicas 2 (with the producers' acks=all, an acknowledged record is then on two
    brokers, and one broker may be down without stopping writes)."""

    replication_factor: int = 1
    min_insync_replicas: int = 1
    # Raw data (metrics, spans, logs) is replayed by the sink and the stream stage after restarts;
    # rollups, alerts and dead letters are small and kept longer.
    raw_retention_ms: int = 2 * 86_400_000
    retention_ms: int = 7 * 86_400_000

    @classmethod
    def of(cls, settings: Settings) -> TopicDurability:
        return cls(
            replication_factor=settings.kafka_replication_factor,
            min_insync_replicas=settings.kafka_min_insync_replicas,
            raw_retention_ms=parse_duration_ms(settings.kafka_raw_retention),
            retention_ms=parse_duration_ms(settings.kafka_retention),
        )


LOCAL_DURABILITY = TopicDurability()  # one local broker


async def ensure_settings_topics(settings: Settings) -> dict[str, int]:
    """:func:`ensure_topics` with the bootstrap, topics, partitions, security and durability of ``settings``."""
    return await ensure_topics(
        settings.kafka_bootstrap,
        settings.topics,
        settings.partitions,
        security=settings.kafka_security,
        durability=TopicDurability.of(settings),
    )


async def ensure_topics(
    bootstrap: str,
    topics: Topics,
    partitions: int,
    timeout_s: float = 30.0,
    *,
    security: KafkaSecurity = PLAINTEXT,
    durability: TopicDurability = TopicDurability(),
) -> dict[str, int]:
    """Create every perfpulse topic that does not exist yet; idempotent.

    ``rollups``, ``alerts`` and ``alert-states`` have one partition per partition of ``metrics`` and
    of ``spans``: partition N carries what the stream stage computed from metrics partition N,
    partition P + N what it computed from spans partition N (P = metrics partitions). Their
    consumers' de-duplication and the stream's restore rely on that one-to-one mapping (each has
    exactly one source partition). ``alert-states`` is compacted: only the newest snapshot of each
    source partition matters. Topics that exist keep their configs (this never alters them).
    Returns the partition count of each of those topics as they are.
    """
    try:
        options = security.client_options()
    except ValueError as exc:
        raise TopicSetupError(f"cannot create topics on {bootstrap}: {exc}") from exc
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000), **options)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        existing = set(await admin.list_topics())
        derived = (topics.rollups, topics.alerts, topics.alert_states)
        wanted = [
            NewTopic(
                name,
                num_partitions=2 * partitions if name in derived else partitions,
                replication_factor=durability.replication_factor,
                topic_configs=_configs(topics, name, durability),
            )
            for name in topics.all()
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                _raise_refusals(await admin.create_topics(wanted))
        counts = await _partition_counts(admin, [topics.metrics, topics.spans, *derived], timeout_s)
        sources = counts.get(topics.metrics, 0) + counts.get(topics.spans, 0)
        for name in derived:
            if counts.get(name) != sources:
                raise TopicSetupError(
                    f"cannot use topic {name} with {counts.get(name)} partitions: it needs one per "
                    f"partition of {topics.metrics} and {topics.spans} ({sources})"
                )
        return counts
    except (TimeoutError, KafkaError, OSError) as exc:
        raise TopicSetupError(f"cannot create topics on {security.at(bootstrap)}: {exc!r}") from exc
    finally:
        await admin.close()


def _raise_refusals(response: Any) -> None:
    """The broker answers a refused topic (a replication factor above its broker count, a config it
    rejects) in the response, not as an exception: without this the wait for the topic ran into its
    timeout and said only that the topic was not served."""
    for name, code, message in response.topic_errors:
        if code not in (0, TopicAlreadyExistsError.errno):  # created by another process meanwhile
            raise TopicSetupError(f"cannot create topic {name}: {message} (Kafka error code {code})")


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float) -> dict[str, int]:
    """Partitions of each topic once the broker serves all of them with a leader. A broker that
    has just started (or is loaded) answers UNKNOWN_TOPIC_OR_PARTITION for seconds after creating
    a topic; read then, the counts were 0, and a consumer group formed then got no partition until
    its next metadata refresh (5 minutes)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        described = await admin.describe_topics(names)
        waiting = [d["topic"] for d in described if not _served(d)]
        if not waiting:
            return {d["topic"]: len(d["partitions"]) for d in described}
        if asyncio.get_running_loop().time() >= deadline:
            raise TopicSetupError(f"topics not served by the broker after {timeout_s:.0f} s: {', '.join(waiting)}")
        await asyncio.sleep(0.2)


def _served(described: dict[str, Any]) -> bool:
    partitions = described["partitions"]
    return described["error_code"] == 0 and bool(partitions) and all(p["leader"] >= 0 for p in partitions)


def _configs(topics: Topics, name: str, durability: TopicDurability) -> dict[str, str]:
    configs = {"min.insync.replicas": str(durability.min_insync_replicas)}
    if name == topics.alert_states:
        # Only the newest snapshot per source partition (its key) is ever read; compaction keeps it
        # however old it is, where retention would drop the state of a partition that went quiet.
        return configs | {"cleanup.policy": "compact"}
    raw = name in (topics.metrics, topics.spans, topics.logs)
    return configs | {"retention.ms": str(durability.raw_retention_ms if raw else durability.retention_ms)}
