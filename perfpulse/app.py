"""The HTTP process: the ingest receivers and the API in one FastAPI app, the notifier (which serves
the alerts, rules and silences API), and the sink beside them when the store is embedded (chDB has
one owner process, and both need it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import (
    AlertingService,
    ApiContext,
    alerts_router,
    catalog_router,
    health_router,
    install_error_handlers,
    logs_router,
    query_router,
    rules_router,
    silences_router,
    traces_router,
)
from infra import kafka_reachable
from ingest.producer import KafkaUnavailable, RecordProducer
from ingest.receivers.http import IngestContext
from ingest.receivers.http import router as ingest_router
from ingest.receivers.otlp import router as otlp_router
from perfpulse.otlpport import otlp_port
from perfpulse.settings import Settings
from perfpulse.stages import migration_params, notifier_config, sink_config, supervise
from storage import Sink, Store, apply_migrations, open_store

__all__ = ["create_app"]

log = logging.getLogger("perfpulse.app")


def create_app(
    settings: Settings, *, with_sink: bool | None = None, store: Store | None = None, with_notifier: bool = True
) -> FastAPI:
    """Build the app. ``with_sink`` defaults to True for an embedded store (the API owns it).
    ``with_notifier``: run the notifier on ``settings.rules`` (one per deployment: it reads every
    alerts partition); without it the alerts, rules and silences endpoints answer 503."""
    run_sink = settings.embedded_store if with_sink is None else with_sink

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        active = store or open_store(settings.store_url)
        apply_migrations(active, migration_params(settings))
        alerting = None
        if with_notifier:
            alerting = AlertingService(notifier_config(settings), active)
            await alerting.open()
        producer = RecordProducer(settings.kafka_bootstrap, settings.topics, client_id="perfpulse-api")
        try:
            await producer.start()
        except KafkaUnavailable as exc:
            log.warning("Kafka is not reachable yet; ingest answers 503 until it is: %s", exc)
        app.state.ingest = IngestContext(producer, settings.limits, redactor=settings.redactor)
        app.state.api = ApiContext(
            store=active,
            window_ms=settings.window_ms,
            kafka_ready=lambda: kafka_reachable(settings.kafka_bootstrap, timeout_s=2.0),
            alerting=alerting,
        )
        stop = asyncio.Event()
        tasks = []
        if run_sink:
            sink = Sink(sink_config(settings), active)
            tasks.append(asyncio.create_task(supervise("sink", lambda: sink.run(stop), stop)))
        if alerting is not None:
            service = alerting
            tasks.append(asyncio.create_task(supervise("alerts consumer", lambda: service.consume(stop), stop)))
            tasks.append(asyncio.create_task(supervise("notifier", lambda: service.notify(stop), stop)))
        try:
            async with otlp_port(app.state.ingest, settings.api_host, settings.otlp_port):
                yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            if alerting is not None:
                await alerting.close()
            await producer.stop()
            if owned:
                active.close()

    app = FastAPI(
        title="perfpulse",
        version="0.1.0",
        summary="Streaming performance monitoring: ingest, percentiles you can trust, alerts.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(ingest_router)
    app.include_router(otlp_router)
    app.include_router(query_router)
    app.include_router(catalog_router)
    app.include_router(traces_router)
    app.include_router(logs_router)
    app.include_router(alerts_router)
    app.include_router(rules_router)
    app.include_router(silences_router)
    app.include_router(health_router)
    return app
