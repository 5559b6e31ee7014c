"""One running app per test module (starting one costs a store, migrations and Kafka connections)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from perfpulse.settings import Settings
from tests.api.apps import app_settings, new_topics, running_app


@pytest.fixture(scope="module")
def module_settings(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("api") / "data"
    return app_settings(kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap))


@pytest.fixture(scope="module")
def client(module_settings: Settings) -> Iterator[TestClient]:
    """The whole app (API, ingest, sink) with its lifespan running on the session's Kafka."""
    with running_app(module_settings) as running:
        yield running
