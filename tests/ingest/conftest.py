"""The ingest endpoints' apps: one per test module, or one per test with topics of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from perfpulse.settings import Settings
from tests.api.apps import app_settings, new_topics, running_app, unreachable_kafka_app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """One chDB data dir for every app of a module (chDB: one data path per process at a time)."""
    return tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]) / "data"


@pytest.fixture(scope="module")
def module_settings(kafka_bootstrap: str, redis_url: str, data_dir: Path) -> Settings:
    return app_settings(kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap))


@pytest.fixture(scope="module")
def client(module_settings: Settings) -> Iterator[TestClient]:
    """The app without its sink: these tests read what ingest wrote to Kafka."""
    with running_app(module_settings, with_sink=False) as running:
        yield running


@pytest.fixture
def fresh_settings(kafka_bootstrap: str, redis_url: str, data_dir: Path) -> Settings:
    """Settings with topics of this test alone (and the module's data dir)."""
    return app_settings(kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap))


@pytest.fixture(scope="module")
def unreachable(module_settings: Settings, client: TestClient) -> Iterator[TestClient]:
    """The app with Kafka unreachable (sharing the module's data dir, kept open by ``client``)."""
    with unreachable_kafka_app(module_settings) as running:
        yield running
