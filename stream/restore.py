"""Reading the alert state a source partition was left in: the last record of its ``alert-states`` partition."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import WireError
from schemas.alerts import StatesRecord, decode_states
from schemas.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["last_states"]

log = logging.getLogger("perfpulse.stream.restore")


async def last_states(
    bootstrap: str, topic: str, partition: int, timeout_s: float = 30.0, *, security: KafkaSecurity = PLAINTEXT
) -> StatesRecord | None:
    """The last record of ``topic``'s ``partition``, or None when it holds none (or an unreadable one).

    Partition N of ``alert-states`` only holds snapshots of source partition N, in tick order, so the
    record just before the log's end is the newest (compaction keeps it: it is its key's last).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=int(timeout_s * 1000),
        **security.client_options(),
    )
    tp = TopicPartition(topic, partition)
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end <= (await consumer.beginning_offsets([tp]))[tp]:
            return None
        consumer.seek(tp, end - 1)
        records: list[Any] = []
        async with asyncio.timeout(timeout_s):
            while not records:
                records = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        try:
            return decode_states(records[-1].value)
        except WireError as exc:
            log.error("cannot restore the alert state of %s[%d] from offset %d: %s; starting without",
                      topic, partition, records[-1].offset, exc)  # fmt: skip
            return None
    finally:
        await consumer.stop()
