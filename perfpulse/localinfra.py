"""Local Kafka and Redis for the configured addresses, under the data dir."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from rich.console import Console

from infra import LocalKafka, LocalRedis
from infra.kafka import metadata_ok
from perfpulse.settings import Settings, mask_url

__all__ = ["ServiceStatus", "local_kafka", "local_redis", "start_local", "status_local", "stop_local"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def local_kafka(settings: Settings) -> LocalKafka | None:
    """The broker to run for ``kafka_bootstrap``, or None when it names a remote cluster or a secured
    one (the local broker is PLAINTEXT; a secured Kafka on loopback is someone else's to run)."""
    first = settings.kafka_bootstrap.split(",")[0]
    host, _, port = first.rpartition(":")
    if host not in _LOCAL_HOSTS or "," in settings.kafka_bootstrap or settings.kafka_security_protocol != "PLAINTEXT":
        return None
    return LocalKafka(settings.data_dir.resolve() / "kafka", port=int(port))


def local_redis(settings: Settings) -> LocalRedis | None:
    url = urlsplit(settings.redis_url)
    if url.hostname not in _LOCAL_HOSTS or url.scheme != "redis":  # a TLS Redis is never started here
        return None
    password = None if url.password is None else unquote(url.password)
    return LocalRedis(settings.data_dir.resolve() / "redis", port=url.port or 6379, password=password)


def start_local(settings: Settings, console: Console) -> Iterator[tuple[str, str, str]]:
    """Start what is local and not yet up; yield (service, started|running|external, address)."""
    kafka = local_kafka(settings)
    if kafka is None:
        yield "kafka", "remote", settings.kafka_security.at(settings.kafka_bootstrap)
    else:
        if not kafka.libs_dir.joinpath(".complete").exists():
            console.print("kafka: fetching broker jars from Maven Central (once; cached)...")
        with console.status(f"kafka: starting on {kafka.bootstrap} ..."):
            state = kafka.start()
        yield "kafka", state, kafka.bootstrap
    redis = local_redis(settings)
    if redis is None:
        yield "redis", "remote", mask_url(settings.redis_url)
    else:
        yield "redis", redis.start(), mask_url(redis.url)


def stop_local(settings: Settings) -> Iterator[tuple[str, bool]]:
    for name, service in (("kafka", local_kafka(settings)), ("redis", local_redis(settings))):
        if service is not None:
            yield name, service.stop()


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    state: str  # up, down
    pid: int | None  # set when this data dir started it


def status_local(settings: Settings) -> list[ServiceStatus]:
    rows = []
    kafka = local_kafka(settings)
    up = metadata_ok(settings.kafka_bootstrap, settings.kafka_security) if kafka is None else kafka.is_ready()
    rows.append(
        ServiceStatus("kafka", settings.kafka_bootstrap, "up" if up else "down", kafka.running_pid() if kafka else None)
    )
    redis = local_redis(settings)
    if redis is not None:
        rows.append(
            ServiceStatus("redis", mask_url(redis.url), "up" if redis.is_ready() else "down", redis.running_pid())
        )
    return rows
