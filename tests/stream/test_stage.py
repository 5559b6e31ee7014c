"""The stream stage on the real Kafka: run on the test's loop, it owns the partitions, rolls a
metric batch up into a window, says so in its health, and stops promptly when told to."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from perfpulse.settings import Settings
from perfpulse.stages import stream_stage
from schemas import (
    MetricBatch,
    MetricKind,
    RecordType,
    RollupBatch,
    SeriesPoints,
    decode_rollups,
    encode_metric_batch,
    type_headers,
)

pytestmark = pytest.mark.integration


async def first_rollups(settings: Settings, timeout_s: float) -> RollupBatch:
    """The first rollups record with rows, from any partition."""
    consumer = AIOKafkaConsumer(
        settings.topics.rollups, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    batch = decode_rollups(record.value)
                    if batch.rows:
                        return batch
        raise AssertionError(f"no rollup row within {timeout_s} s")
    finally:
        await consumer.stop()


async def test_stage_rolls_up_reports_health_and_stops_when_told(settings: Settings) -> None:
    stage = stream_stage(settings, metrics_partitions=4)
    assert stage.health().ok is False and stage.health().detail == "not running"
    stop = asyncio.Event()
    task = asyncio.create_task(stage.run(stop))
    try:
        deadline = time.monotonic() + 60
        while "partitions assigned" not in stage.health().detail:
            assert not task.done(), f"the stage ended: {task.exception()!r}"
            assert time.monotonic() < deadline, f"no partition assigned: {stage.health()}"
            await asyncio.sleep(0.2)
        assert stage.health().ok

        # Both points in one window: 1 ms apart at an arbitrary moment they straddled a window's
        # end once in a thousand runs (1 s windows) and rolled up into two rows.
        now_ms = time.time_ns() // 1_000_000
        start = (now_ms - 2_000) // settings.window_ms * settings.window_ms
        ts = np.array([start, start + 1], dtype=np.int64)
        points = SeriesPoints("lat", MetricKind.DISTRIBUTION, {}, ts, np.array([1.0, 3.0]))
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            value = encode_metric_batch(MetricBatch("svc", [points]))
            await producer.send_and_wait(
                settings.topics.metrics, value, partition=0, headers=type_headers(RecordType.METRICS)
            )
        finally:
            await producer.stop()
        [row] = (await first_rollups(settings, 30)).rows
        assert (row.service, row.count, row.sum) == ("svc", 2, 4.0)
    finally:
        stop.set()
        # A worker holding partitions once took over 25 s to stop inside a loop not its own; the
        # stage stops its Faust services itself (they left the group in ~0.03 s when measured).
        await asyncio.wait_for(task, 15)
    assert stage.health().detail == "not running"
