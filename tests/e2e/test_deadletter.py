"""A corrupt record on the metrics topic goes to the dead-letter topic with its reason, lands in
ClickHouse, and the worker keeps going: the good points around it are all counted."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from schemas import MetricBatch, MetricKind, SeriesPoints, encode_metric_batch
from storage import open_store
from tests.e2e.conftest import Deployment, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

_SERIES = b'{"type": "metrics", "service": "gateway", "series": [{"name": "x", %s}]}'
CORRUPT = {  # record -> words its dead-letter reason must contain
    b"{not json": "invalid JSON",
    _SERIES % b'"ts": [1, 2], "values": [1.0]': "equal length",
    _SERIES % b'"ts": [1], "values": ["a"]': "values",
    b'{"type": "gauges"}': "type",
}


def good_batch(now_ms: int, n: int) -> bytes:
    values = np.arange(1, n + 1, dtype=np.float64)
    ts = np.full(n, now_ms, dtype=np.int64)
    return encode_metric_batch(MetricBatch("gateway", [SeriesPoints("queue.depth", MetricKind.GAUGE, {}, ts, values)]))


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"gateway")
    finally:
        await producer.stop()


def test_corrupt_records_are_dead_lettered_and_the_worker_keeps_going(deployment: Deployment) -> None:
    now = time.time_ns() // 1_000_000
    records = [good_batch(now, 100), *CORRUPT, good_batch(now, 50)]
    asyncio.run(produce(deployment.settings.kafka_bootstrap, deployment.settings.topics.metrics, records))
    deployment.wait_count("queue.depth", now - 60_000, now + 60_000, 150)
    deployment.stop_all()

    store = open_store(deployment.settings.store_url, pool_size=1)
    try:

        def letters() -> list[tuple[str, str, str]]:
            return store.rows("SELECT stage, reason, payload FROM deadletters FINAL ORDER BY source_offset")

        wait_for(lambda: len(letters()) == len(CORRUPT), 5, "dead letters")
        stored = letters()
    finally:
        store.close()
    assert [stage for stage, _, _ in stored] == ["stream"] * len(CORRUPT)
    for (_, reason, payload), (sent, expected_words) in zip(stored, CORRUPT.items(), strict=True):
        assert payload == sent.decode()  # clickhouse-connect reads String columns as text
        assert expected_words in reason, reason
