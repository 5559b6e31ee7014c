"""Helpers shared by the ingest tests that talk to Kafka: read a topic back, make Kafka "down"."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer

from schemas import MetricBatch, decode_metrics_record

__all__ = ["read_batches", "read_records", "tcp_proxy"]


async def read_records(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes]]:
    """Every record of ``topic`` from the beginning: (partition, key, value)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[tuple[int, bytes | None, bytes]] = []

    async def poll() -> None:
        for tp, messages in (await consumer.getmany(timeout_ms=200)).items():
            records.extend((tp.partition, m.key, m.value) for m in messages)

    try:
        while not consumer.assignment():  # without a group, every partition is assigned
            await poll()
        partitions = sorted(consumer.assignment())
        end = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            await poll()
        return records
    finally:
        await consumer.stop()


async def read_batches(bootstrap: str, topic: str) -> list[tuple[bytes | None, MetricBatch]]:
    """Every metrics record of ``topic`` from the beginning, decoded: (key, batch)."""
    out: list[tuple[bytes | None, MetricBatch]] = []
    for _, key, value in await read_records(bootstrap, topic):
        batch = decode_metrics_record(value)
        assert isinstance(batch, MetricBatch)
        out.append((key, batch))
    return out


@contextlib.asynccontextmanager
async def tcp_proxy(target: str) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A local port that refuses connections until the yielded event is set, then forwards to target.

    Stands in for "Kafka is down, then comes back" without touching the shared broker.
    """
    host, port = target.rsplit(":", 1)
    up = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        for coro in (pipe(reader, upstream_writer), pipe(upstream_reader, writer)):
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    # Reserve a port, close it (connections are refused), reopen it when ``up`` is set.
    probe = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    server: asyncio.Server | None = None

    async def open_when_up() -> None:
        nonlocal server
        await up.wait()
        server = await asyncio.start_server(handle, "127.0.0.1", proxy_port)

    opener = asyncio.create_task(open_when_up())
    try:
        yield f"127.0.0.1:{proxy_port}", up
    finally:
        opener.cancel()
        if server is not None:
            server.close()
        for task in list(tasks):
            task.cancel()
