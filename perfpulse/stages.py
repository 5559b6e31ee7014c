"""Each stage built from the settings: the one place that turns settings into stage configs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from perfpulse.settings import Settings
from perfpulse.topics import ensure_topics
from storage import MigrationParams, SinkConfig

if TYPE_CHECKING:
    from alerting.notify.stage import NotifierConfig
    from stream import StreamWorker

__all__ = [
    "migration_params",
    "notifier_config",
    "run_demo_for",
    "run_sink",
    "sink_config",
    "stream_worker",
    "supervise",
]

log = logging.getLogger("perfpulse.stages")


def migration_params(settings: Settings) -> MigrationParams:
    return MigrationParams(
        raw_ttl_days=settings.raw_ttl_days,
        rollup_ttl_days=settings.rollup_ttl_days,
        tier_1m_ttl_days=settings.tier_1m_ttl_days,
        tier_1h_ttl_days=settings.tier_1h_ttl_days,
        spans_ttl_days=settings.spans_ttl_days,
        logs_ttl_days=settings.logs_ttl_days,
        alert_history_ttl_days=settings.alert_history_ttl_days,
    )


def sink_config(settings: Settings) -> SinkConfig:
    return SinkConfig(
        bootstrap=settings.kafka_bootstrap,
        topics=settings.topics,
        group=f"{settings.consumer_group}-sink",
        redactor=settings.redactor,
    )


def notifier_config(settings: Settings) -> NotifierConfig:
    """The notifier of the API process: every alerts partition, channels from the rules file."""
    from alerting.notify.stage import NotifierConfig

    return NotifierConfig(
        bootstrap=settings.kafka_bootstrap,
        topic=settings.topics.alerts,
        group=f"{settings.consumer_group}-notifier",
        rules_path=settings.rules,
        window_ms=settings.window_ms,
        external_url=settings.api_url,
    )


async def supervise(name: str, run: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run ``run`` until ``stop`` is set, restarting it with backoff when it fails (a stage never
    takes its process down with it; the failure is logged with its cause)."""
    delay = 1.0
    while not stop.is_set():
        try:
            await run()
            delay = 1.0
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; restarting in %.0f s", name, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30.0)


def stream_worker(settings: Settings, metrics_partitions: int) -> StreamWorker:
    """The Faust app; ``metrics_partitions``: the metrics topic's partition count, as it is in Kafka."""
    from stream import StreamConfig, StreamWorker

    return StreamWorker(
        StreamConfig(
            bootstrap=settings.kafka_bootstrap,
            topics=settings.topics,
            group=f"{settings.consumer_group}-stream",
            window_ms=settings.window_ms,
            grace_ms=settings.grace_ms,
            metrics_partitions=metrics_partitions,
            rules_path=settings.rules,
        )
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_sink(settings: Settings) -> None:
    """The sink alone, until SIGINT/SIGTERM. Raises StoreLocked when an embedded store is held."""
    from storage import Sink, apply_migrations, open_store

    store = open_store(settings.store_url, pool_size=2)
    apply_migrations(store, migration_params(settings))
    await ensure_topics(settings.kafka_bootstrap, settings.topics, settings.partitions)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    sink = Sink(sink_config(settings), store)
    try:
        await supervise("sink", lambda: sink.run(stop), stop)
    finally:
        store.close()


async def run_demo_for(settings: Settings, rate: float, seconds: float | None) -> None:
    from ingest.demo import run_demo

    stop = asyncio.Event()
    _stop_on_signals(stop)
    if seconds is not None:
        asyncio.get_running_loop().call_later(seconds, stop.set)
    await run_demo(settings.kafka_bootstrap, settings.topic_prefix, rate_per_s=rate, stop=stop)
