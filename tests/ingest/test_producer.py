"""RecordProducer: acknowledged sends, bounded failures, lazy restart when Kafka comes back."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from schemas import MetricBatch, MetricKind, RecordType, SeriesPoints, Topics, decode_metrics_record, record_type
from tests.ingest.helpers import read_messages, read_records, tcp_proxy
from tests.storage.telemetry import log, span


def make_batch(service: str, n: int, offset: float = 0.0) -> MetricBatch:
    now = int(time.time() * 1000)
    return MetricBatch(
        service,
        [
            SeriesPoints(
                "http.server.duration",
                MetricKind.DISTRIBUTION,
                {"route": "/api/x"},
                np.full(n, now, dtype=np.int64),
                np.arange(n, dtype=np.float64) + offset,
            )
        ],
    )


async def test_unreachable_kafka_fails_fast_with_cause() -> None:
    producer = RecordProducer("127.0.0.1:1", Topics("unreachable."), request_timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match=r"^cannot send to Kafka at 127\.0\.0\.1:1: ") as info:
        await producer.send_metrics([make_batch("gateway", 10)])
    assert time.monotonic() - started < 3.0
    assert info.value.__cause__ is not None
    assert not producer.started
    await producer.stop()


async def test_start_is_bounded_when_kafka_never_answers() -> None:
    """A peer that accepts connections and stays silent must not hang start() forever."""
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    address = f"127.0.0.1:{silent.sockets[0].getsockname()[1]}"
    producer = RecordProducer(address, Topics("silent."), request_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match=f"cannot send to Kafka at {address}"):
        await producer.start()
    assert time.monotonic() - started < 4.0
    await producer.stop()
    silent.close()


async def test_oversized_record_is_rejected_before_sending() -> None:
    producer = RecordProducer("127.0.0.1:1", Topics("big."), max_request_bytes=1_000)
    with pytest.raises(RecordRejected, match="the limit is 1000 bytes"):
        await producer.send_metrics([make_batch("gateway", 1_000)])
    await producer.stop()


@pytest.mark.integration
async def test_send_metrics_is_acknowledged_and_readable(kafka_bootstrap: str, topics: Topics) -> None:
    producer = RecordProducer(kafka_bootstrap, topics)
    batches = [make_batch(service, 2_000, offset=i) for i, service in enumerate(["gateway", "frontend", "gateway"])]
    await producer.send_metrics(batches)
    await producer.stop()

    records = await read_records(kafka_bootstrap, topics.metrics)
    assert len(records) == 3
    decoded = []
    for _, key, value in records:
        batch = decode_metrics_record(value)
        assert isinstance(batch, MetricBatch)
        assert key == batch.service.encode()
        decoded.append((batch.service, batch.series[0].values[0], batch.n_points))
    assert sorted(decoded) == [("frontend", 1.0, 2_000), ("gateway", 0.0, 2_000), ("gateway", 2.0, 2_000)]
    gateway_partitions = {p for p, key, _ in records if key == b"gateway"}
    assert len(gateway_partitions) == 1  # one key, one partition: a service's points stay in order


@pytest.mark.integration
async def test_concurrent_senders_share_one_producer(kafka_bootstrap: str, topics: Topics) -> None:
    producer = RecordProducer(kafka_bootstrap, topics)
    await asyncio.gather(*(producer.send_metrics([make_batch(f"svc{i % 3}", 100, i)]) for i in range(30)))
    await producer.stop()
    assert len(await read_records(kafka_bootstrap, topics.metrics)) == 30


@pytest.mark.integration
async def test_recovers_when_kafka_comes_back(kafka_bootstrap: str, topics: Topics) -> None:
    """Booted while Kafka was down: sends fail fast, then succeed once Kafka is reachable."""
    async with tcp_proxy(kafka_bootstrap) as (address, up):
        producer = RecordProducer(address, topics, request_timeout_s=2.0)
        with pytest.raises(KafkaUnavailable):
            await producer.start()
        with pytest.raises(KafkaUnavailable):
            await producer.send_metrics([make_batch("gateway", 10)])
        up.set()
        await asyncio.sleep(0.1)
        await producer.send_metrics([make_batch("gateway", 10, offset=100)])
        await producer.stop()
    records = await read_records(kafka_bootstrap, topics.metrics)
    assert len(records) == 1  # the failed attempts left nothing behind
    batch = decode_metrics_record(records[0][2])
    assert isinstance(batch, MetricBatch) and batch.series[0].values[0] == 100.0


@pytest.mark.integration
async def test_every_record_names_its_type_in_its_header(kafka_bootstrap: str, topics: Topics) -> None:
    producer = RecordProducer(kafka_bootstrap, topics)
    await producer.send_metrics([make_batch("gateway", 10)])
    await producer.send_spans([[span(1, 1, None, 0, 5)]])
    await producer.send_logs([[log(0, "started")]])
    await producer.stop()
    for topic, kind in ((topics.metrics, RecordType.METRICS), (topics.spans, RecordType.SPANS),
                        (topics.logs, RecordType.LOGS)):  # fmt: skip
        [message] = await read_messages(kafka_bootstrap, topic)
        assert record_type(message.headers, b"") is kind  # the header alone names it
