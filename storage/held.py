"""Partitions a ``read_committed`` reader cannot read past: a transaction still open at their last
stable offset.

A transaction in progress holds its partition's readers while it runs: the receivers' for 10 s at
most (their transaction timeout), another producer's for its own. One held far longer than any
transaction timeout was left without its marker, which Kafka does not repair by itself (README:
Guarantees, "A commit marker Kafka did not write"): the sink and the stream worker stop there, so
the windows of that partition's services stay open. :class:`HeldPartitions` finds such partitions
from what the consumer's fetches report, so an operator is told rather than left to wonder why a
service's newest points are missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import TopicPartition

from storage import metrics

__all__ = ["Held", "HeldPartitions"]

log = logging.getLogger("perfpulse.storage.held")


class Held(NamedTuple):
    """A partition held at ``stable`` (its last stable offset) with records up to ``end``, since ``seconds``."""

    partition: TopicPartition
    stable: int
    end: int
    seconds: float


@dataclass
class HeldPartitions:
    """Tells partitions whose last stable offset has stayed behind their end for ``after_s`` or longer."""

    after_s: float = 120.0
    _since: dict[TopicPartition, tuple[int, float]] = field(default_factory=dict)  # (stable offset, first seen)
    held: list[Held] = field(default_factory=list)  # those found by the last check

    async def check(self, consumer: Any, now: float) -> list[Held]:
        """The assigned partitions of ``consumer`` (an ``AIOKafkaConsumer`` reading ``read_committed``)
        held ``after_s`` or longer at ``now`` (monotonic seconds): its position has reached the last
        stable offset its fetches report, and that offset has stayed below the partition's end. A
        partition newly found is logged once; each is on ``/metrics``."""
        since: dict[TopicPartition, tuple[int, float]] = {}
        held: list[Held] = []
        for tp in consumer.assignment():
            stable, end = consumer.last_stable_offset(tp), consumer.highwater(tp)
            if stable is None or end is None or stable < 0 or stable >= end:
                continue
            if await consumer.position(tp) < stable:
                continue  # records before it are still to be read: not held yet, only behind
            seen_stable, first = self._since.get(tp, (stable, now))
            if seen_stable != stable:
                first = now  # it moved: a transaction ended, another one holds it now
            since[tp] = (stable, first)
            if now - first >= self.after_s:
                held.append(Held(tp, stable, end, now - first))
        told = {h.partition for h in self.held}
        for tp in told - {h.partition for h in held}:  # released
            metrics.HELD_SECONDS.labels(tp.topic, str(tp.partition)).set(0)
        for h in held:
            metrics.HELD_SECONDS.labels(h.partition.topic, str(h.partition.partition)).set(h.seconds)
            if h.partition not in told:
                log.error(
                    "partition %s-%d: read_committed readers are held at offset %d (records up to %d) by a "
                    "transaction open for %.0f s, far past perfpulse's transaction timeout: most likely Kafka "
                    "left it without its marker. The sink and the stream worker stop there until a marker of "
                    "the same producer closes it (README: Guarantees)",
                    h.partition.topic, h.partition.partition, h.stable, h.end, h.seconds,
                )  # fmt: skip
        self._since, self.held = since, held
        return held
