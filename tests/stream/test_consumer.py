"""The stream worker's Faust transport: the aiokafka consumer Faust builds reads ``read_committed``
and waits at most FETCH_MAX_WAIT_MS per fetch instead of faust-streaming's fixed 1,500 ms."""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from stream.consumer import FETCH_MAX_WAIT_MS, use_worker_transport


def _app(name: str) -> faust.App:
    return faust.App(name, broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)


def _built(app: faust.App) -> Any:
    """The aiokafka consumer ``app``'s transport builds for its worker (not started)."""
    consumer: Any = app.consumer
    return consumer._thread._create_worker_consumer(app.transport)


async def test_the_worker_consumer_reads_committed_and_waits_briefly() -> None:
    app = _app("test-worker-transport")
    use_worker_transport(app)
    consumer = _built(app)
    try:
        assert consumer._isolation_level == "read_committed"
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS == 100
    finally:
        await consumer.stop()


async def test_faust_alone_would_read_uncommitted_and_wait_1500_ms() -> None:
    """What the transport corrects: if faust-streaming ever makes these settings, this test says so."""
    app = _app("test-faust-transport")
    assert isinstance(app.transport, faust_aiokafka.Transport)
    consumer = _built(app)
    try:
        assert consumer._isolation_level == "read_uncommitted"
        assert consumer._fetch_max_wait_ms == 1_500
    finally:
        await consumer.stop()
