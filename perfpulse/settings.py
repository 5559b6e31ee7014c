"""perfpulse's settings: one pydantic-settings class, read at the edge and passed into the stages.

Every field is also an environment variable ``PERFPULSE_<NAME>`` (architecture section 6), and the
CLI exposes the ones that make sense per command as flags.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import Limits, Redactor, Topics, parse_duration_ms
from schemas.kafka_security import KafkaSecurity
from schemas.redact import DEFAULT_SENSITIVE_KEYS

__all__ = ["DEFAULT_RULES", "Settings", "mask_url"]

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "infra" / "alerts.yaml"  # the spec's rules, shipped


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFPULSE_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL)"
    )
    kafka_sasl_username: str = Field("", description="SASL user")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never printed or logged)")
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM CA bundle of the brokers' certificates (default: the system's)"
    )
    kafka_ssl_certfile: Path | None = Field(None, description="PEM client certificate, for brokers that require one")
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM private key of kafka_ssl_certfile")
    kafka_replication_factor: int = Field(
        1, ge=1, description="replicas of each topic perfpulse creates (1: one local broker; production: 3)"
    )
    kafka_min_insync_replicas: int = Field(
        1, ge=1, description="replicas that must have a record before it is acknowledged (production: 2)"
    )
    kafka_raw_retention: str = Field("48h", description="how long the metrics, spans and logs topics keep records")
    kafka_retention: str = Field("7d", description="how long the rollups and alerts topics keep records")
    clickhouse_url: str | None = Field(
        None,
        description="chdb://<path> (embedded, default: under the data dir) or http(s)://user:pass@host:8123/db",
    )
    clickhouse_cluster: str | None = Field(
        None,
        description="ClickHouse cluster (remote_servers) the migrations create replicated tables on (ON CLUSTER)",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the query cache")
    redis_cluster: bool = Field(
        False, description="redis_url names a node of a Redis Cluster: the query cache routes its keys by slot"
    )
    cache_l1_mb: int = Field(64, ge=0, description="MB of query answers the API keeps in its own memory (0: no L1)")
    cache_l1_ttl: str = Field("10m", description="longest an answer stays in the API's memory (L1)")
    cache_blocks_ttl: str = Field("24h", description="how long Redis (L2) keeps a closed block of a query with step")
    cache_ranges_ttl: str = Field(
        "1h", description="how long Redis (L2) keeps the answer of a settled query without step"
    )
    cache_l2: bool = Field(True, description="keep query answers in Redis (L2) too")
    cache_key: SecretStr | None = Field(
        None, description="base64 of 32 bytes: query answers in Redis (L2) are encrypted with AES-256-GCM"
    )
    compress_min_bytes: int = Field(
        1024, ge=0, description="answers from this size on are sent brotli or gzip compressed"
    )
    data_dir: Path = Field(Path(".perfpulse"), description="local state: chDB store, Kafka and Redis files")
    window: str = Field("10s", description="tumbling window length, e.g. 1s, 10s, 1m")
    grace: str = Field("2s", description="how long after its end a window still accepts points")
    max_series_per_window: int = Field(
        50_000, ge=1, description="series one window of one partition holds; points of more go to overflow series"
    )
    max_series_per_service: int = Field(
        10_000, ge=1, description="series of one service in one window of one partition; more go to overflow series"
    )
    api_host: str = Field("127.0.0.1", description="address the API listens on")
    api_port: int = Field(8080, description="port the API listens on")
    allowed_hosts: str = Field(
        "", description="comma-separated Host names accepted besides localhost while the API listens on loopback"
    )
    cors_origins: str = Field(
        "", description="comma-separated web origins (https://shop.example.com) whose pages may POST to /api/v1/ingest"
    )
    metrics_open: bool = Field(False, description="serve /metrics without a key (a scraper on a trusted network)")
    tls_cert: Path | None = Field(None, description="PEM certificate (chain): the API and OTLP port serve HTTPS")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    rate_ingest_per_s: float = Field(200.0, ge=0, description="ingest requests per second per key (0: unlimited)")
    rate_ingest_burst: int = Field(400, ge=1, description="ingest requests one key may send at once")
    rate_query_per_s: float = Field(20.0, ge=0, description="read requests per second per key (0: unlimited)")
    rate_query_burst: int = Field(100, ge=1, description="read requests one key may send at once")
    rate_write_per_s: float = Field(1.0, ge=0, description="writes (rules, silences, keys) per second per key")
    rate_write_burst: int = Field(20, ge=1, description="writes one key may send at once")
    ingest_transactional_id: str = Field(
        "",
        description="Kafka transactional id of this API process's ingest producer: the same across its restarts, "
        "different from every other live API process's (default: from the host, data dir and API port)",
    )
    ingest_transaction_timeout_s: float = Field(
        10.0, gt=0, description="seconds Kafka holds open the ingest transaction of an API process that died"
    )
    idempotency_ttl: str = Field("24h", description="how long the answer to a request with an Idempotency-Key is kept")
    otlp_port: int = Field(4318, ge=0, description="port of the OTLP/HTTP receiver beside the API (0: off)")
    health_port: int = Field(
        0, ge=0, description="port of /healthz, /readyz and /metrics in a worker, sink or notifier process (0: off)"
    )
    rules: Path = Field(DEFAULT_RULES, description="alert rules file (default: infra/alerts.yaml of perfpulse)")
    topic_prefix: str = Field("perfpulse.", description="prefix of every Kafka topic perfpulse uses")
    partitions: int = Field(4, ge=1, le=256, description="partitions of each topic perfpulse creates")
    consumer_group: str = Field("perfpulse", description="prefix of the Kafka consumer groups")
    max_past: str = Field("24h", description="oldest point timestamp accepted at ingest, relative to now")
    max_future: str = Field("10m", description="newest point timestamp accepted at ingest, relative to now")
    raw_ttl_days: int = Field(3, ge=1, description="days raw points are kept in ClickHouse")
    rollup_ttl_days: int = Field(30, ge=1, description="days window rollups are kept in ClickHouse")
    tier_1m_ttl_days: int = Field(90, ge=1, description="days the per-minute tier is kept")
    tier_1h_ttl_days: int = Field(400, ge=1, description="days the per-hour tier is kept")
    spans_ttl_days: int = Field(7, ge=1, description="days spans are kept in ClickHouse")
    logs_ttl_days: int = Field(7, ge=1, description="days log records are kept in ClickHouse")
    alert_history_ttl_days: int = Field(
        90, ge=1, description="days alert transitions and notification attempts are kept in ClickHouse"
    )
    redact_keys: str = Field(
        ",".join(DEFAULT_SENSITIVE_KEYS),
        description="comma-separated attribute names whose values the sink redacts (a key containing one counts)",
    )
    log_level: str = Field("info", description="debug, info, warning or error")
    log_format: str = Field("auto", description="json, console, or auto (json when not on a terminal)")
    live_max_connections: int = Field(10_000, ge=1, description="live-feed connections one API process serves")
    live_max_subscriptions: int = Field(50, ge=1, le=1_000, description="subscriptions per live-feed connection")
    live_max_queries: int = Field(
        1_000, ge=1, description="distinct live subscriptions per API process (each computed per stored window)"
    )
    live_queue: int = Field(10_000, ge=10, description="results waiting for one live client before it is closed")
    live_resume_s: float = Field(300.0, gt=0, le=3_600, description="seconds of live results kept for resuming")
    live_heartbeat_s: float = Field(15.0, gt=0, description="a live-feed heartbeat after this many idle seconds")
    live_timeout_s: float = Field(45.0, gt=0, description="a WebSocket client silent this many seconds is closed")

    @field_validator(
        "window",
        "grace",
        "max_past",
        "max_future",
        "cache_l1_ttl",
        "cache_blocks_ttl",
        "cache_ranges_ttl",
        "kafka_raw_retention",
        "kafka_retention",
        "idempotency_ttl",
    )
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration_ms(value)
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or f"{parts.scheme}://{parts.netloc}" != origin
            ):
                raise ValueError(
                    f"cors_origins: {origin[:100]!r} is not an origin: give scheme://host[:port] with no path or "
                    "wildcard, e.g. https://shop.example.com"
                )
        return value

    @field_validator("rules")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Absolute, so every process started from here (other working directories) reads one file."""
        return value.expanduser().resolve()

    @field_validator("tls_cert", "tls_key", "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
    @classmethod
    def _absolute_file(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().resolve()

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both (HTTPS) or neither (HTTP)")
        return self

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Settings:
        self.kafka_security  # noqa: B018 - raises ValueError naming what is missing or unknown
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"kafka_min_insync_replicas {self.kafka_min_insync_replicas} is more than "
                f"kafka_replication_factor {self.kafka_replication_factor}: no write could be acknowledged"
            )
        return self

    @field_validator("window")
    @classmethod
    def _window_divides_a_minute(cls, value: str) -> str:
        ms = parse_duration_ms(value)
        if 60_000 % ms != 0 and ms % 60_000 != 0:
            raise ValueError(f"window {value!r} must divide a minute or be whole minutes (1s, 5s, 10s, 1m ...)")
        return value

    # Derived values are computed on each read, not cached: a cache would survive model_copy(update=...)
    # and answer for the old fields (topics of the old prefix, say).
    @property
    def window_ms(self) -> int:
        return parse_duration_ms(self.window)

    @property
    def grace_ms(self) -> int:
        return parse_duration_ms(self.grace)

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def limits(self) -> Limits:
        return Limits(max_past_ms=parse_duration_ms(self.max_past), max_future_ms=parse_duration_ms(self.max_future))

    @property
    def kafka_security(self) -> KafkaSecurity:
        """What every Kafka client perfpulse creates is given (schemas/kafka_security.py)."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password or SecretStr(""),
            cafile=None if self.kafka_ssl_cafile is None else str(self.kafka_ssl_cafile),
            certfile=None if self.kafka_ssl_certfile is None else str(self.kafka_ssl_certfile),
            keyfile=None if self.kafka_ssl_keyfile is None else str(self.kafka_ssl_keyfile),
        )

    @property
    def redactor(self) -> Redactor:
        return Redactor.of(self.redact_keys.split(","))

    @property
    def store_url(self) -> str:
        """The ClickHouse URL in effect: the configured one, or chDB under the data dir."""
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def transactional_id(self) -> str:
        """The ingest producer's transactional id in effect: the configured one, or one derived from
        this host, the data dir and the API port (two live API processes never share all three)."""
        if self.ingest_transactional_id:
            return self.ingest_transactional_id
        where = f"{socket.gethostname()}|{self.data_dir.resolve()}|{self.api_port}"
        return f"{self.topic_prefix}ingest-{hashlib.sha256(where.encode()).hexdigest()[:16]}"

    @property
    def embedded_store(self) -> bool:
        return self.store_url.startswith("chdb:")

    @property
    def api_url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.api_host}:{self.api_port}"

    @property
    def tls_options(self) -> dict[str, Any]:
        """uvicorn's options for HTTPS (none for HTTP)."""
        if self.tls_cert is None or self.tls_key is None:
            return {}
        return {"ssl_certfile": str(self.tls_cert), "ssl_keyfile": str(self.tls_key)}

    @property
    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


def mask_url(url: str) -> str:
    """``url`` fit to print: its password (or a user given without one, which may be a token) as ***."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, _ = userinfo.partition(":")
    masked = f"{user}:***" if sep else "***"
    return urlunsplit(parts._replace(netloc=f"{masked}@{hostport}"))
