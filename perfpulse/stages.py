"""Each stage built from the settings, and the processes of stages: the one place that turns settings
into stage configs and decides what runs together."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from perfpulse.healthport import health_port
from perfpulse.settings import Settings
from perfpulse.storedfeed import StoredFeed
from perfpulse.topics import ensure_settings_topics
from schemas.events import stored_channel
from storage import MigrationParams
from storage.sink import SinkConfig

if TYPE_CHECKING:
    from alerting.notify.stage import NotifierConfig, NotifierStage
    from schemas.stage import Stage
    from storage import Store
    from stream.stage import StreamStage

__all__ = [
    "migration_params",
    "notifier_config",
    "notifier_name",
    "notifier_stage",
    "run_demo_for",
    "run_stages",
    "run_worker",
    "serve_stages",
    "sink_config",
    "stream_stage",
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
    ).for_cluster(settings.clickhouse_cluster)


def sink_config(settings: Settings) -> SinkConfig:
    from api.l2cache import drop_cells

    return SinkConfig(
        bootstrap=settings.kafka_bootstrap,
        security=settings.kafka_security,
        topics=settings.topics,
        group=f"{settings.consumer_group}-sink",
        redactor=settings.redactor,
        # every API process hears what this sink stored (caches drop those cells, the live feed pushes them)
        on_stored=StoredFeed(
            settings.redis_url,
            stored_channel(settings.topic_prefix),
            before_publish=functools.partial(drop_cells, namespace=settings.topic_prefix),
            cluster=settings.redis_cluster,
        ).publish,
    )


def notifier_name(settings: Settings) -> str:
    """The notifier's consumer group, under which it saves its state (the API reads it by this name)."""
    return f"{settings.consumer_group}-notifier"


def notifier_config(settings: Settings) -> NotifierConfig:
    """The deployment's one notifier: every alerts partition, channels from the rules file."""
    from alerting.notify.stage import NotifierConfig

    return NotifierConfig(
        bootstrap=settings.kafka_bootstrap,
        security=settings.kafka_security,
        topic=settings.topics.alerts,
        group=notifier_name(settings),
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


def stream_stage(settings: Settings, metrics_partitions: int) -> StreamStage:
    """The stream stage; ``metrics_partitions``: the metrics topic's partition count, as it is in Kafka."""
    from stream import SeriesCaps, StreamConfig
    from stream.stage import StreamStage

    return StreamStage(
        StreamConfig(
            bootstrap=settings.kafka_bootstrap,
            security=settings.kafka_security,
            topics=settings.topics,
            group=f"{settings.consumer_group}-stream",
            window_ms=settings.window_ms,
            grace_ms=settings.grace_ms,
            metrics_partitions=metrics_partitions,
            rules_path=settings.rules,
            caps=SeriesCaps(settings.max_series_per_window, settings.max_series_per_service),
            faust_dir=settings.data_dir / "stream",
        )
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def notifier_stage(settings: Settings, store: Store) -> NotifierStage:
    """The notifier stage on ``store`` (its state, attempts and the API's commands live there)."""
    from alerting.notify.stage import NotifierStage
    from storage.alerts import NotifierTables

    return NotifierStage(notifier_config(settings), NotifierTables(store))


async def serve_stages(settings: Settings, stages: list[Stage]) -> None:
    """Every stage supervised until SIGINT/SIGTERM, then stopped; their health on the health port."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    async with health_port(stages, settings.api_host, settings.health_port):
        await asyncio.gather(*(supervise(s.name, functools.partial(s.run, stop), stop) for s in stages))


async def run_stages(settings: Settings, build: Callable[[Store], list[Stage]]) -> None:
    """A process of stages on the store (sink, notifier): migrations and topics first, then
    :func:`serve_stages`. Raises StoreLocked when an embedded store is held."""
    from storage import apply_migrations, open_store

    store = open_store(settings.store_url, pool_size=2)
    apply_migrations(store, migration_params(settings))
    await ensure_settings_topics(settings)
    try:
        await serve_stages(settings, build(store))
    finally:
        store.close()


async def run_worker(settings: Settings) -> None:
    """A stream worker process: topics first (the metrics partition count sizes the rollups
    mapping), then :func:`serve_stages`. Raises TopicSetupError naming the broker's answer."""
    counts = await ensure_settings_topics(settings)
    await serve_stages(settings, [stream_stage(settings, counts[settings.topics.metrics])])


async def run_demo_for(settings: Settings, rate: float, seconds: float | None) -> None:
    from ingest.demo import run_demo

    stop = asyncio.Event()
    _stop_on_signals(stop)
    if seconds is not None:
        asyncio.get_running_loop().call_later(seconds, stop.set)
    await run_demo(
        settings.kafka_bootstrap, settings.topic_prefix, rate_per_s=rate, stop=stop, security=settings.kafka_security
    )
