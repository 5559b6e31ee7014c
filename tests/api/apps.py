"""The perfpulse app as tests drive it: real lifespan (chDB store, Kafka producer), TestClient over it.

chDB runs one data path per process at a time, so apps that live together in a test module share one
data dir (several stores on one path in one process are fine).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from perfpulse.app import create_app
from perfpulse.settings import Settings
from perfpulse.topics import ensure_topics
from schemas import Topics
from storage import Store

UNREACHABLE_KAFKA = "127.0.0.1:1"


def new_topics(kafka_bootstrap: str) -> Topics:
    """Fresh topics (4 partitions each) under a prefix nothing else uses."""
    created = Topics(f"t{uuid.uuid4().hex[:10]}.")
    asyncio.run(ensure_topics(kafka_bootstrap, created, partitions=4))
    return created


def app_settings(kafka_bootstrap: str, redis_url: str, data_dir: Path, topics: Topics, **overrides: Any) -> Settings:
    """Settings as tests/conftest.py builds them: a 1 s window, the given topics and data dir."""
    fields: dict[str, Any] = {
        "kafka_bootstrap": kafka_bootstrap,
        "redis_url": redis_url,
        "data_dir": data_dir,
        "topic_prefix": topics.prefix,
        "consumer_group": f"g-{topics.prefix.rstrip('.')}",
        "window": "1s",
        "grace": "1s",
        "log_format": "console",
        "otlp_port": 0,
        **overrides,
    }
    return Settings(**fields)


@contextmanager
def running_app(settings: Settings, **options: Any) -> Iterator[TestClient]:
    """The app of ``settings`` with its lifespan running; server errors come back as 500 responses."""
    app = create_app(settings, **options)
    # Host localhost: the app refuses other names while it listens on loopback (DNS rebinding)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        yield client


@contextmanager
def unreachable_kafka_app(settings: Settings) -> Iterator[TestClient]:
    """The app on ``settings``' store and topics, with Kafka unreachable (no sink and no notifier:
    the caller's app keeps the store, and its notifier state, to itself)."""
    moved = app_settings(UNREACHABLE_KAFKA, settings.redis_url, settings.data_dir, settings.topics)
    with running_app(moved, with_sink=False, with_notifier=False) as running:
        yield running


def app_store(client: TestClient) -> Store:
    """The store the running app queries (insert rows here to query them through the API)."""
    store: Store = client.app.state.api.store  # type: ignore[attr-defined]
    return store


def assert_error_shape(body: Any, loc: str | None = None) -> None:
    """``{"error": str, "details": [{"loc": str, "msg": str}, ...]}``, optionally naming ``loc``."""
    assert isinstance(body, dict) and set(body) == {"error", "details"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], list)
    for detail in body["details"]:
        assert set(detail) == {"loc", "msg"} and isinstance(detail["msg"], str) and detail["msg"], detail
    if loc is not None:
        assert loc in [d["loc"] for d in body["details"]], body


def keys_by_scope(client: TestClient, name: str) -> dict[str, str]:
    """One key per scope (admin, read, ingest) named ``name <scope>``, created through the API: the
    first while no key exists, the app sees each at once (a key written to the store directly shows
    only at its next refresh)."""
    created: dict[str, str] = {}
    for scope in ("admin", "read", "ingest"):
        headers = {"Authorization": f"Bearer {created['admin']}"} if created else {}
        response = client.post("/api/v1/keys", json={"scope": scope, "name": f"{name} {scope}"}, headers=headers)
        assert response.status_code == 201, response.text
        created[scope] = response.json()["key"]
    return created
