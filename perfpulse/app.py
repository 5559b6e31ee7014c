"""The HTTP process: the ingest receivers and the API in one FastAPI app, and beside them the stages
that must share its store: the sink and the notifier when the store is embedded (chDB has one owner
process). With a ClickHouse server they run as processes of their own (``perfpulse sink``,
``perfpulse notifier``) and the API reads the notifier's saved state through storage."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from alerting.rules import RulesWatcher
from api import (
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
from api.auth import Auth, install_auth
from api.batch import router as batch_router
from api.cache import CacheConfig, QueryCache
from api.cacheseal import Sealer
from api.canary import router as canary_router
from api.cors import IngestCors
from api.dashboard import router as dashboard_router
from api.heatmap import router as heatmap_router
from api.hosts import HostCheck
from api.httpcache import HttpCacheMiddleware
from api.keys import router as keys_router
from api.l2cache import L2Cache
from api.live import LiveKeys
from api.live import router as live_router
from api.livefeed_hub import LiveHub, LiveLimits
from api.notifier import NotifierAccess
from api.procboard import ProcessBoard, reporting
from api.ratelimit import Budget, RateLimiter
from api.resources import ResourcesState
from api.resources import router as resources_router
from api.selfstats import SelfSampler
from api.servicehealth import router as service_health_router
from infra import kafka_reachable
from ingest.producer import KafkaUnavailable, RecordProducer
from ingest.receivers.http import IngestContext
from ingest.receivers.http import router as ingest_router
from ingest.receivers.idempotency import Idempotency
from ingest.receivers.offload import IngestWorkers
from ingest.receivers.otlp import router as otlp_router
from perfpulse.gctuning import tune_gc
from perfpulse.otlpport import otlp_port
from perfpulse.settings import Settings
from perfpulse.stages import migration_params, notifier_name, notifier_stage, sink_config, supervise
from schemas import parse_duration_ms
from schemas.events import stored_channel
from schemas.stage import Stage
from storage import Store, apply_migrations, open_store
from storage.sink import Sink

__all__ = ["create_app"]

log = logging.getLogger("perfpulse.app")

SINK_FLUSH_MS = 1_000  # a window's rows are queryable this long after the stream stage emits it (storage.sink)
INGEST_TRANSACTIONS_AT_ONCE = 2  # Kafka transactions of ingest running at a time, each on a producer of its own


def create_app(
    settings: Settings,
    *,
    with_sink: bool | None = None,
    with_notifier: bool | None = None,
    store: Store | None = None,
) -> FastAPI:
    """Build the app. ``with_sink`` and ``with_notifier`` default to True for an embedded store (this
    process owns it); with a server each runs as its own process. The alerts, rules and silences
    endpoints work either way: they read what the notifier saved and queue commands for it."""
    in_process = {
        "sink": settings.embedded_store if with_sink is None else with_sink,
        "notifier": settings.embedded_store if with_notifier is None else with_notifier,
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        active = store or open_store(settings.store_url)
        apply_migrations(active, migration_params(settings))
        await auth.start(active, settings.data_dir.resolve())
        stages: list[Stage] = []
        if in_process["sink"]:
            stages.append(Sink(sink_config(settings), active))
        if in_process["notifier"]:
            stages.append(notifier_stage(settings, active))
        producer = RecordProducer(
            settings.kafka_bootstrap,
            settings.topics,
            client_id="perfpulse-api",
            security=settings.kafka_security,
            # each request all or nothing; a restarted API fences its predecessor's open transaction
            transactional_id=settings.transactional_id,
            transaction_timeout_s=settings.ingest_transaction_timeout_s,
            # a request arriving while a transaction commits starts the next on the other producer
            transactions_at_once=INGEST_TRANSACTIONS_AT_ONCE,
        )
        try:
            await producer.start()
        except KafkaUnavailable as exc:
            log.warning("Kafka is not reachable yet; ingest answers 503 until it is: %s", exc)
        rules = RulesWatcher(settings.rules, window_ms=settings.window_ms)
        rules.reload()
        app.state.cache = cache = _query_cache(settings)
        listening = asyncio.create_task(cache.listen(settings.redis_url, stored_channel(settings.topic_prefix)))
        idempotency = Idempotency(
            settings.redis_url,
            namespace=settings.topic_prefix,
            group=settings.transactional_id,
            ttl_s=parse_duration_ms(settings.idempotency_ttl) / 1000,
            committed=producer.committed,
        )
        app.state.ingest = IngestContext(
            producer, settings.limits, redactor=settings.redactor, idempotency=idempotency,
            # The worker processes parse and encode as the API process does: many short-lived objects.
            workers=IngestWorkers(initializer=tune_gc),
        )  # fmt: skip
        app.state.api = ApiContext(
            store=active,
            window_ms=settings.window_ms,
            kafka_ready=lambda: kafka_reachable(
                settings.kafka_bootstrap, timeout_s=2.0, security=settings.kafka_security
            ),
            rules=rules,
            notifier=NotifierAccess(active, notifier_name(settings)),
            stages=lambda: [stage.health() for stage in stages],
            channel_env=os.environ,
        )
        app.state.live = LiveHub(active, settings.window_ms, settings.redis_url,
                                 stored_channel(settings.topic_prefix), _live_limits(settings))  # fmt: skip
        await app.state.live.start()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(supervise(s.name, functools.partial(s.run, stop), stop)) for s in stages]
        try:
            guarded = otlp_port(
                app.state.ingest, settings.api_host, settings.otlp_port, guard=auth.wrap, tls=settings.tls_options
            )
            # this process's memory, CPU and connections on the deployment's process board (api/procboard.py)
            board = ProcessBoard(settings.redis_url, settings.topic_prefix, cluster=settings.redis_cluster)
            role = "+".join(["api", *(s.name for s in stages)])
            sampler = SelfSampler(role, port=settings.api_port, live=lambda: len(app.state.live.connections))
            async with guarded, board, reporting(board, sampler) as latest:
                app.state.resources = ResourcesState(board, latest)
                yield
        finally:
            stop.set()
            await app.state.live.stop()
            await asyncio.gather(*tasks)
            await producer.stop()
            await idempotency.close()
            await auth.stop()
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
            await cache.close()
            if owned:
                active.close()

    auth = _auth(settings)
    app = FastAPI(
        title="perfpulse",
        version="0.1.0",
        summary="Streaming performance monitoring: ingest, percentiles you can trust, alerts.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(HttpCacheMiddleware, min_bytes=settings.compress_min_bytes)
    install_auth(app, auth)
    app.add_middleware(LiveKeys)  # added late, so it runs early: a browser's key reaches auth as a header
    if settings.cors_origin_list:  # outermost: a preflight carries no key, so it is answered before auth
        app.add_middleware(IngestCors, origins=settings.cors_origin_list)
    # Busiest first: a request is matched against the routes in this order, and each router it
    # passes costs FastAPI 2-5 µs (a live-feed connect at the 20th route: 87 µs of matching, ~13 %
    # of its CPU; the paths do not overlap, so the order changes nothing else).
    app.include_router(ingest_router)
    app.include_router(otlp_router)
    app.include_router(query_router)
    app.include_router(batch_router)
    app.include_router(live_router)
    app.include_router(health_router)
    app.include_router(service_health_router)
    app.include_router(catalog_router)
    app.include_router(traces_router)
    app.include_router(logs_router)
    app.include_router(alerts_router)
    app.include_router(heatmap_router)
    app.include_router(rules_router)
    app.include_router(silences_router)
    app.include_router(keys_router)
    app.include_router(canary_router)
    app.include_router(resources_router)
    app.include_router(dashboard_router)  # last: its fallback answers the paths the others leave
    return app


def _query_cache(settings: Settings) -> QueryCache:
    """L1 in this process and L2 in the deployment's Redis (keys under its topic prefix), its values
    encrypted when a cache key is set; ValueError naming what is wrong with the key (never the key)."""
    config = CacheConfig(
        l1_bytes=settings.cache_l1_mb * 1024 * 1024,
        l1_ttl_s=parse_duration_ms(settings.cache_l1_ttl) / 1000,
        blocks_ttl_s=parse_duration_ms(settings.cache_blocks_ttl) / 1000,
        ranges_ttl_s=parse_duration_ms(settings.cache_ranges_ttl) / 1000,
        settle_ms=settings.window_ms + settings.grace_ms + SINK_FLUSH_MS,
        window_ms=settings.window_ms,
    )
    if not settings.cache_l2:
        return QueryCache(config, None)
    secret = settings.cache_key.get_secret_value() if settings.cache_key is not None else None
    sealer = Sealer.from_base64(secret) if secret else None
    return QueryCache(
        config, L2Cache(settings.redis_url, settings.topic_prefix, cluster=settings.redis_cluster, sealer=sealer)
    )


def _auth(settings: Settings) -> Auth:
    """The access policy of the API and OTLP ports: keys and scopes, the Host check while listening on
    loopback, per-key rate limits shared through Redis."""
    budgets = {
        "ingest": Budget(settings.rate_ingest_per_s, settings.rate_ingest_burst),
        "query": Budget(settings.rate_query_per_s, settings.rate_query_burst),
        "write": Budget(settings.rate_write_per_s, settings.rate_write_burst),
    }
    limiter = RateLimiter(settings.redis_url, budgets, namespace=settings.topic_prefix)
    return Auth(HostCheck(settings.api_host, settings.allowed_host_list), limiter, metrics_open=settings.metrics_open)


def _live_limits(settings: Settings) -> LiveLimits:
    return LiveLimits(
        max_connections=settings.live_max_connections,
        max_subscriptions=settings.live_max_subscriptions,
        max_queries=settings.live_max_queries,
        max_queue=settings.live_queue,
        resume_s=settings.live_resume_s,
        heartbeat_s=settings.live_heartbeat_s,
        timeout_s=settings.live_timeout_s,
    )
