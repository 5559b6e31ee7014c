"""Kafka clients over SASL and TLS, on a broker of this module's own (its own ports and data dir,
stopped after the module): SASL_PLAINTEXT with PLAIN and SCRAM users, SSL that requires a client
certificate signed by a CA made here with openssl, and SASL_SSL. perfpulse's producer, a consumer and
topic creation go through each, the stream worker (Faust) through SCRAM over TLS, the sink through
TLS with a client certificate, the notifier through SCRAM; a wrong password is refused with the
mechanism and user named, and no password reaches a log line or an error."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

from alerting.rules import State
from infra import LocalKafka
from infra.kafka import SecureListeners
from ingest import Emitter
from ingest.producer import KafkaUnavailable, RecordProducer
from perfpulse.settings import Settings
from perfpulse.stages import migration_params, notifier_stage, stream_stage
from perfpulse.topics import TopicSetupError, ensure_settings_topics, ensure_topics
from schemas import MetricBatch, MetricKind, RollupRow, SeriesPoints, Topics, decode_metrics_record, decode_rollups
from schemas.kafka_security import KafkaSecurity, Mechanism
from storage import apply_migrations, open_store
from storage.sink import Sink, SinkConfig
from tests.alerting.notify.test_stage import record, rules_file
from tests.ports import free_broker_port
from tests.tlscerts import SERVER, make_ca, sign

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

USER = "perfpulse-svc"
PASSWORD = "pw-4d1c9e7b-kafka"  # looked for in every log line and error: it must never appear
WRONG_PASSWORD = "pw-wrong-0a6f2c"


@dataclass(frozen=True)
class SecureBroker:
    sasl_bootstrap: str
    ssl_bootstrap: str
    sasl_ssl_bootstrap: str
    ca: Path  # signed the broker's and the client's certificates
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    home = tmp_path_factory.mktemp("secure-kafka")
    tls = home / "tls"
    ca = make_ca(tls)
    broker_cert, broker_key = sign(tls, "broker", SERVER)
    client_cert, client_key = sign(tls, "client", "extendedKeyUsage=clientAuth\n")
    keystore = tls / "broker-keystore.pem"
    keystore.write_text(broker_key.read_text() + broker_cert.read_text())
    listeners = SecureListeners(
        sasl_port=free_broker_port(),
        users=((USER, PASSWORD),),
        ssl_port=free_broker_port(),
        ssl_keystore=keystore,
        ssl_truststore=ca,
        sasl_ssl_port=free_broker_port(),
    )
    broker = LocalKafka(home / "kafka", port=free_broker_port(), secure=listeners)
    broker.start()
    try:
        yield SecureBroker(
            f"127.0.0.1:{listeners.sasl_port}",
            f"127.0.0.1:{listeners.ssl_port}",
            f"127.0.0.1:{listeners.sasl_ssl_port}",
            ca,
            client_cert,
            client_key,
        )
    finally:
        broker.stop()


def _sasl(mechanism: Mechanism, password: str = PASSWORD) -> KafkaSecurity:
    return KafkaSecurity("SASL_PLAINTEXT", mechanism, USER, SecretStr(password))


def _batch(service: str) -> MetricBatch:
    # Both points in one of the tests' 1 s windows: 1 ms apart at an arbitrary moment they
    # straddled a window's end once in a thousand runs and rolled up into two rows.
    start = (time.time_ns() // 1_000_000 - 2_000) // 1_000 * 1_000
    ts = np.array([start, start + 1], dtype=np.int64)
    return MetricBatch(service, [SeriesPoints("lat", MetricKind.DISTRIBUTION, {}, ts, np.array([1.0, 3.0]))])


async def _first_value(
    bootstrap: str, topic: str, security: KafkaSecurity, wanted: Callable[[bytes], bool] = bool, timeout_s: float = 60
) -> bytes:
    """The first record value of ``topic`` that is ``wanted``, read through ``security``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", **security.client_options()
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        if record.value is not None and wanted(record.value):
                            return bytes(record.value)
    finally:
        await consumer.stop()


async def _send_one(bootstrap: str, topics: Topics, security: KafkaSecurity, partitions: int) -> None:
    """Create ``topics`` and send one batch (service "secure-svc") with perfpulse's producer."""
    await ensure_topics(bootstrap, topics, partitions=partitions, security=security)
    producer = RecordProducer(bootstrap, topics, security=security)
    try:
        await producer.send_metrics([_batch("secure-svc")])
    finally:
        await producer.stop()


async def _round_trip(bootstrap: str, security: KafkaSecurity) -> MetricBatch:
    """Send one batch to new topics, read it back with a consumer."""
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    await _send_one(bootstrap, topics, security, partitions=1)
    decoded = decode_metrics_record(await _first_value(bootstrap, topics.metrics, security))
    assert isinstance(decoded, MetricBatch)
    return decoded


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_records_go_both_ways_through_sasl_and_the_password_is_never_logged(
    secure_broker: SecureBroker, mechanism: Mechanism, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    batch = await _round_trip(secure_broker.sasl_bootstrap, _sasl(mechanism))
    assert batch.service == "secure-svc" and batch.series[0].values.tolist() == [1.0, 3.0]
    assert caplog.records and PASSWORD not in caplog.text


async def test_the_sdk_emitter_sends_through_scram(secure_broker: SecureBroker) -> None:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    security = _sasl("SCRAM-SHA-256")
    await ensure_topics(secure_broker.sasl_bootstrap, topics, partitions=1, security=security)
    with Emitter("sdk-svc", secure_broker.sasl_bootstrap, topic_prefix=topics.prefix, security=security) as emitter:
        emitter.observe("lat", 42.0)
        assert await asyncio.to_thread(emitter.flush, 30)
    decoded = decode_metrics_record(await _first_value(secure_broker.sasl_bootstrap, topics.metrics, security))
    assert isinstance(decoded, MetricBatch) and decoded.service == "sdk-svc"
    assert decoded.series[0].values.tolist() == [42.0]


async def test_records_go_both_ways_through_tls_with_a_client_certificate(secure_broker: SecureBroker) -> None:
    security = KafkaSecurity(
        "SSL",
        cafile=str(secure_broker.ca),
        certfile=str(secure_broker.client_cert),
        keyfile=str(secure_broker.client_key),
    )
    batch = await _round_trip(secure_broker.ssl_bootstrap, security)
    assert batch.service == "secure-svc"


async def test_records_go_both_ways_through_sasl_over_tls(secure_broker: SecureBroker) -> None:
    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-256", USER, SecretStr(PASSWORD), cafile=str(secure_broker.ca))
    batch = await _round_trip(secure_broker.sasl_ssl_bootstrap, security)
    assert batch.service == "secure-svc"


async def test_tls_without_the_client_certificate_the_broker_requires_is_refused(
    secure_broker: SecureBroker,
) -> None:
    security = KafkaSecurity("SSL", cafile=str(secure_broker.ca))
    with pytest.raises(TopicSetupError, match=r"^cannot create topics on 127\.0\.0\.1:\d+ \(SSL\): "):
        await ensure_topics(
            secure_broker.ssl_bootstrap, Topics("refused."), partitions=1, timeout_s=5, security=security
        )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
async def test_a_wrong_password_names_the_mechanism_and_user_and_never_the_password(
    secure_broker: SecureBroker, mechanism: Mechanism, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    security = _sasl(mechanism, WRONG_PASSWORD)
    named = (
        f"127.0.0.1:{secure_broker.sasl_bootstrap.rpartition(':')[2]} (SASL_PLAINTEXT, {mechanism} as user '{USER}')"
    )
    producer = RecordProducer(secure_broker.sasl_bootstrap, Topics("refused."), security=security, request_timeout_s=5)
    with pytest.raises(KafkaUnavailable) as refused:
        await producer.start()
    assert str(refused.value).startswith(f"cannot send to Kafka at {named}: ")
    with pytest.raises(TopicSetupError) as not_created:
        await ensure_topics(
            secure_broker.sasl_bootstrap, Topics("refused."), partitions=1, timeout_s=5, security=security
        )
    assert str(not_created.value).startswith(f"cannot create topics on {named}: ")
    assert "Authentication failed" in caplog.text  # the broker's reason, as aiokafka logs it
    for text in (str(refused.value), str(not_created.value), caplog.text, repr(security)):
        assert WRONG_PASSWORD not in text


async def test_the_stream_worker_rolls_up_through_scram_over_tls(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(
        kafka_bootstrap=secure_broker.sasl_ssl_bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_ssl_cafile=secure_broker.ca,
        kafka_sasl_username=USER,
        kafka_sasl_password=SecretStr(PASSWORD),
        data_dir=tmp_path / "data",
        topic_prefix=prefix,
        consumer_group=f"g-{prefix.rstrip('.')}",
        window="1s",
        grace="1s",
    )
    counts = await ensure_settings_topics(settings)
    stage = stream_stage(settings, counts[settings.topics.metrics])
    stop = asyncio.Event()
    task = asyncio.create_task(stage.run(stop))
    try:
        async with asyncio.timeout(60):  # Faust joins the group through SCRAM, then owns the partitions
            while "partitions assigned" not in stage.health().detail:
                ended, _ = await asyncio.wait({task}, timeout=0.2)
                assert not ended, f"the stage ended: {task.exception()!r}"
        producer = RecordProducer(settings.kafka_bootstrap, settings.topics, security=settings.kafka_security)
        try:
            await producer.send_metrics([_batch("scram-svc")])
        finally:
            await producer.stop()
        value = await _first_value(
            settings.kafka_bootstrap,
            settings.topics.rollups,
            settings.kafka_security,
            lambda v: bool(decode_rollups(v).rows),
        )
        [row] = decode_rollups(value).rows
        assert (row.service, row.count, row.sum) == ("scram-svc", 2, 4.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert PASSWORD not in caplog.text


def test_sasl_without_a_user_or_password_and_unknown_names_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="SASL_SSL needs a SASL username and password"):
        KafkaSecurity("SASL_SSL", "PLAIN", USER)
    with pytest.raises(ValueError, match="cannot use Kafka security protocol 'TLS'"):
        KafkaSecurity("TLS")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot use SASL mechanism 'GSSAPI'"):
        KafkaSecurity("SASL_PLAINTEXT", "GSSAPI", USER, SecretStr(PASSWORD))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"cannot read Kafka CA file /nonexistent/ca\.pem"):
        KafkaSecurity("SSL", cafile="/nonexistent/ca.pem").client_options()


def test_the_forms_for_lines_and_reprs_hold_the_user_but_never_the_password() -> None:
    security = _sasl("SCRAM-SHA-256")
    assert security.at("k:9092") == f"k:9092 (SASL_PLAINTEXT, SCRAM-SHA-256 as user '{USER}')"
    assert KafkaSecurity().at("k:9092") == "k:9092"
    assert PASSWORD not in repr(security) and PASSWORD not in str(security)
    assert security.client_options()["sasl_plain_password"] == PASSWORD  # what aiokafka is given
    credentials = security.faust_credentials()
    assert (credentials.username, credentials.password, credentials.mechanism.value) == (
        USER,
        PASSWORD,
        "SCRAM-SHA-256",
    )
    assert PASSWORD not in repr(credentials)
    assert KafkaSecurity().faust_credentials() is None


def test_a_worker_process_set_up_by_environment_rolls_up_over_sasl_ssl_and_logs_no_password(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    """``perfpulse worker`` at log level debug, its Kafka settings in PERFPULSE_KAFKA_*: PLAIN, whose
    password travels in the clear inside TLS, so any log line of its request would show it."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    security = KafkaSecurity("SASL_SSL", "PLAIN", USER, SecretStr(PASSWORD), cafile=str(secure_broker.ca))
    env = {name: value for name, value in os.environ.items() if not name.startswith("PERFPULSE_")} | {
        "PERFPULSE_KAFKA_BOOTSTRAP": secure_broker.sasl_ssl_bootstrap,
        "PERFPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PERFPULSE_KAFKA_SASL_MECHANISM": "PLAIN",
        "PERFPULSE_KAFKA_SASL_USERNAME": USER,
        "PERFPULSE_KAFKA_SASL_PASSWORD": PASSWORD,
        "PERFPULSE_KAFKA_SSL_CAFILE": str(secure_broker.ca),
        "PERFPULSE_TOPIC_PREFIX": prefix,
        "PERFPULSE_CONSUMER_GROUP": f"g-{prefix.rstrip('.')}",
        "PERFPULSE_DATA_DIR": str(tmp_path / "data"),
        "PERFPULSE_WINDOW": "1s",
        "PERFPULSE_GRACE": "1s",
        "PERFPULSE_LOG_LEVEL": "debug",
        "PERFPULSE_LOG_FORMAT": "json",
    }
    output = tmp_path / "worker.log"
    with output.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "perfpulse", "worker"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        row = asyncio.run(_rolled_up(secure_broker.sasl_ssl_bootstrap, Topics(prefix), security))
        assert (row.service, row.count, row.sum) == ("secure-svc", 2, 4.0)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    logged = output.read_text()
    assert logged.strip() and PASSWORD not in logged


async def _rolled_up(bootstrap: str, topics: Topics, security: KafkaSecurity) -> RollupRow:
    """Send one batch to ``topics``; the first rollup row the stream worker makes of it."""
    await _send_one(bootstrap, topics, security, partitions=4)
    value = await _first_value(bootstrap, topics.rollups, security, lambda v: bool(decode_rollups(v).rows), 90)
    [row] = decode_rollups(value).rows
    return row


async def test_the_sink_stores_what_it_reads_over_tls_with_a_client_certificate(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    security = KafkaSecurity(
        "SSL",
        cafile=str(secure_broker.ca),
        certfile=str(secure_broker.client_cert),
        keyfile=str(secure_broker.client_key),
    )
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    await _send_one(secure_broker.ssl_bootstrap, topics, security, partitions=1)
    store = open_store(f"chdb://{tmp_path}/ch", pool_size=1)
    try:
        apply_migrations(store)
        config = SinkConfig(
            bootstrap=secure_broker.ssl_bootstrap, topics=topics, group=f"g-{topics.prefix}", security=security
        )
        stop = asyncio.Event()
        sink = asyncio.create_task(Sink(config, store).run(stop))
        try:
            async with asyncio.timeout(60):
                while not await asyncio.to_thread(store.rows, "SELECT service, value FROM points ORDER BY value"):
                    ended, _ = await asyncio.wait({sink}, timeout=0.5)
                    assert not ended, f"the sink ended: {sink.exception()!r}"
        finally:
            stop.set()
            await asyncio.wait_for(sink, 15)
        assert store.rows("SELECT service, value FROM points ORDER BY value") == [
            ("secure-svc", 1.0),
            ("secure-svc", 3.0),
        ]
    finally:
        store.close()


async def test_the_notifier_reads_an_alert_through_scram(secure_broker: SecureBroker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(
        kafka_bootstrap=secure_broker.sasl_bootstrap,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username=USER,
        kafka_sasl_password=SecretStr(PASSWORD),
        data_dir=tmp_path / "data",
        topic_prefix=prefix,
        consumer_group=f"g-{prefix.rstrip('.')}",
        rules=rules_file(tmp_path, "http://127.0.0.1:1"),  # deliveries fail; reading is what is checked
    )
    await ensure_settings_topics(settings)
    fired = time.time_ns() // 1_000_000 - 5_000
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", **settings.kafka_security.client_options()
    )
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.alerts, record(10, 0, State.FIRING, fired, fired), partition=2)
    finally:
        await producer.stop()
    store = open_store(f"chdb://{tmp_path}/ch", pool_size=2)
    try:
        apply_migrations(store, migration_params(settings))
        stage = notifier_stage(settings, store)
        stop = asyncio.Event()
        task = asyncio.create_task(stage.run(stop))
        try:
            async with asyncio.timeout(60):
                while stage.health().detail.split(",")[0] != "1 alert(s)":
                    ended, _ = await asyncio.wait({task}, timeout=0.5)
                    assert not ended, f"the notifier ended: {task.exception()!r}"
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    finally:
        store.close()
