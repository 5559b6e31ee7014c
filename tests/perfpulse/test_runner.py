"""``perfpulse up``'s preparation: a fresh data dir gets an admin key, printed once; no URL or error
shown carries a password; its child processes get the secrets themselves."""

from __future__ import annotations

import io

import pytest
from pydantic import SecretStr
from rich.console import Console

from perfpulse.runner import _prepare, settings_env
from perfpulse.settings import Settings
from storage import open_store
from storage.keys import Scope, hash_key, key_table


def test_a_fresh_data_dir_gets_one_admin_key(settings: Settings) -> None:
    out = io.StringIO()
    key = _prepare(settings, Console(file=out, width=300))
    assert key is not None and key.startswith("pp_")
    assert key not in out.getvalue()  # the banner shows it once the API is up, not the preparation
    assert _prepare(settings, Console(file=io.StringIO())) is None  # not again: a key exists
    store = open_store(settings.store_url, pool_size=1)
    try:
        table = key_table(store)
    finally:
        store.close()
    assert [k.scope for k in table.active.values()] == [Scope.ADMIN]
    assert hash_key(key) in table.active


def test_the_preparation_shows_no_redis_password(settings: Settings) -> None:
    remote = settings.model_copy(update={"redis_url": "redis://:s3cret@redis.invalid:6379/0"})
    out = io.StringIO()
    _prepare(remote, Console(file=out, width=300))
    assert "s3cret" not in out.getvalue() and "redis://:***@redis.invalid:6379/0" in out.getvalue()


def test_a_kafka_refusal_names_mechanism_and_user_and_no_password(settings: Settings) -> None:
    """SASL against the PLAINTEXT broker: the handshake fails, and the error line says with what."""
    secured = Settings(
        **settings.model_dump(exclude={"kafka_security_protocol", "kafka_sasl_username", "kafka_sasl_password"}),
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr("pw-19ab-kafka"),
    )
    out = io.StringIO()
    with pytest.raises(SystemExit):
        _prepare(secured, Console(file=out, width=300))
    shown = out.getvalue()
    named = f"{settings.kafka_bootstrap} (SASL_PLAINTEXT, PLAIN as user 'svc')"
    assert f"kafka: remote ({named})" in shown  # a secured Kafka is never one perfpulse starts itself
    assert f"cannot create topics on {named}" in shown
    assert "pw-19ab-kafka" not in shown


def test_child_processes_get_the_secrets_themselves(settings: Settings) -> None:
    """str() of a SecretStr is '**********': a child given that would fail to authenticate."""
    secured = settings.model_copy(
        update={"kafka_sasl_password": SecretStr("pw-77d2-kafka"), "cache_key": SecretStr("a2V5")}
    )
    env = settings_env(secured)
    assert (env["PERFPULSE_KAFKA_SASL_PASSWORD"], env["PERFPULSE_CACHE_KEY"]) == ("pw-77d2-kafka", "a2V5")
