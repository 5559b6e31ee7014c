"""Finding the newest alert-state snapshot of a source partition in the ``alerts`` topic."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import WireError
from schemas.alerts import AlertRecord, decode_alert_record

__all__ = ["latest_snapshot"]

_STEP = 256  # records read back per attempt (snapshots are most of the topic: one per evaluating tick)


async def latest_snapshot(bootstrap: str, topic: str, partition: int, timeout_s: float = 30.0) -> AlertRecord | None:
    """The last ``states`` record of ``topic``'s ``partition``, or None when it holds none."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=int(timeout_s * 1000)
    )
    tp = TopicPartition(topic, partition)
    await consumer.start()
    try:
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        upto, step = end, _STEP
        while upto > begin:
            start = max(begin, upto - step)
            consumer.seek(tp, start)
            found: AlertRecord | None = None
            while (position := await consumer.position(tp)) < upto:
                batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=1000), timeout_s)
                for record in batch.get(tp, []):
                    if record.offset >= upto:
                        break
                    try:
                        decoded = decode_alert_record(record.value)
                    except WireError:
                        continue
                    if decoded.kind == "states":
                        found = decoded
                if not batch and position >= end:
                    break
            if found is not None:
                return found
            upto, step = start, step * 4
        return None
    finally:
        await consumer.stop()
