"""Session-wide real services for the tests: one Kafka broker and one Redis, started here.

Tests are isolated by topic prefix and data dir, never by restarting the broker. Set
``PERFPULSE_TEST_KAFKA=host:port`` (and ``PERFPULSE_TEST_REDIS=redis://...``) to use running ones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import LocalKafka, LocalRedis
from perfpulse.settings import Settings
from perfpulse.topics import ensure_topics
from schemas import Topics

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = REPO / ".perfpulse-test"
KAFKA_PORT = 19092
REDIS_PORT = 16379


def _other_sessions(leases: Path) -> bool:
    """Whether another live test session (concurrent pytest runs) still uses a shared service."""
    alive = False
    for lease in leases.iterdir():
        if Path(f"/proc/{lease.name}").exists():
            alive = True
        else:
            lease.unlink(missing_ok=True)
    return alive


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalKafka]:
    """The session's broker (started here, stopped when the last test session using it ends;
    a fault test may restart it)."""
    # 1 GB heap: a session creates thousands of partitions (7 topics per test), more than
    # `perfpulse up`'s 512 MB is sized for.
    broker = LocalKafka(TEST_HOME / "kafka", port=KAFKA_PORT, heap_mb=1024)
    leases = TEST_HOME / "kafka-leases"
    leases.mkdir(parents=True, exist_ok=True)
    (leases / str(os.getpid())).touch()
    state = broker.start()
    yield broker
    (leases / str(os.getpid())).unlink(missing_ok=True)
    if state != "external" and not _other_sessions(leases):
        broker.stop()
        # Each test's topics are its own (the ``topics`` fixture below): none is read again. Kept, a
        # few hundred sessions' ~20,000 partition dirs failed the next start ("Too many open files").
        shutil.rmtree(broker.home / "data", ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    external = os.environ.get("PERFPULSE_TEST_KAFKA")
    if external:
        return external
    broker: LocalKafka = request.getfixturevalue("kafka_broker")
    return broker.bootstrap


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    external = os.environ.get("PERFPULSE_TEST_REDIS")
    if external:
        yield external
        return
    server = LocalRedis(TEST_HOME / "redis", port=REDIS_PORT)
    leases = TEST_HOME / "redis-leases"
    leases.mkdir(parents=True, exist_ok=True)
    (leases / str(os.getpid())).touch()
    state = server.start()
    yield server.url
    (leases / str(os.getpid())).unlink(missing_ok=True)
    if state != "external" and not _other_sessions(leases):
        server.stop()


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topics:
    """A fresh set of topics (4 partitions each) under a prefix no other test uses."""
    created = Topics(f"t{uuid.uuid4().hex[:10]}.")
    asyncio.run(ensure_topics(kafka_bootstrap, created, partitions=4))
    return created


@pytest.fixture
def settings(kafka_bootstrap: str, redis_url: str, topics: Topics, tmp_path: Path) -> Settings:
    """Settings for one test: its own topics and data dir, a 1 s window and a 1 s grace."""
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        topic_prefix=topics.prefix,
        consumer_group=f"g-{topics.prefix.rstrip('.')}",
        window="1s",
        grace="1s",
        log_format="console",
        otlp_port=0,  # tests that want OTLP's own port give it a free one
    )
