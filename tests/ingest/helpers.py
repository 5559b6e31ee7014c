"""Helpers shared by the ingest tests that talk to Kafka: read a topic back, make Kafka "down", serve
an app on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer

from schemas import LogRecord, MetricBatch, Span, decode_logs, decode_metrics_record, decode_spans
from tests.api.apps import assert_error_shape

__all__ = ["read_batches", "read_logs", "read_records", "read_spans", "serving", "tcp_proxy"]


async def read_records(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes]]:
    """Every record of ``topic`` from the beginning: (partition, key, value)."""
    return [(m.partition, m.key, m.value) for m in await read_messages(bootstrap, topic)]


async def read_messages(bootstrap: str, topic: str, isolation_level: str = "read_committed") -> list[Any]:
    """Every record of ``topic`` from the beginning, as aiokafka hands it over (headers included);
    as the stream worker and the sink read it (committed records only) unless ``isolation_level``
    says ``read_uncommitted``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level=isolation_level,
    )
    await consumer.start()
    records: list[Any] = []

    async def poll() -> None:
        for messages in (await consumer.getmany(timeout_ms=200)).values():
            records.extend(messages)

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


def read_spans(bootstrap: str, topic: str) -> list[tuple[bytes | None, list[Span]]]:
    """Every ``spans`` record of ``topic`` from the beginning, decoded (validated): (key, spans)."""
    return [(key, decode_spans(value)) for _, key, value in asyncio.run(read_records(bootstrap, topic))]


def read_logs(bootstrap: str, topic: str) -> list[tuple[bytes | None, list[LogRecord]]]:
    """Every ``logs`` record of ``topic`` from the beginning, decoded (validated): (key, records)."""
    return [(key, decode_logs(value)) for _, key, value in asyncio.run(read_records(bootstrap, topic))]


@contextlib.contextmanager
def serving(app: Any, timeout_s: float = 30.0, **options: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn (``options``: more of its settings) on a free local port, in a
    thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **({"log_level": "warning", "lifespan": "on"} | options)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()


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


def rejected(response: Any, status: int, loc: str | None = None) -> dict[str, Any]:
    """The body of ``response``, asserted to be an error of ``status`` (located at ``loc``)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert_error_shape(body, loc)
    return body
