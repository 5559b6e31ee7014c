"""Settings that concern security: TLS comes as a pair, URLs are shown without their secrets, Kafka's
security settings are complete or refused and never show their password."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from perfpulse.settings import Settings, mask_url
from schemas.kafka_security import KafkaSecurity


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://default:hunter2@ch.internal:8123/perfpulse", "http://default:***@ch.internal:8123/perfpulse"),
        ("https://user:p%40ss:word@ch:8443/db", "https://user:***@ch:8443/db"),
        ("redis://:s3cret@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("rediss://token-as-user@redis.internal/0", "rediss://***@redis.internal/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("chdb:///var/lib/perfpulse/clickhouse", "chdb:///var/lib/perfpulse/clickhouse"),
    ],
)
def test_urls_are_shown_without_credentials(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_tls_needs_both_files_and_makes_the_api_url_https(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        Settings(tls_cert=tmp_path / "cert.pem")
    settings = Settings(tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem", api_port=8443)
    assert settings.api_url == "https://127.0.0.1:8443"
    assert settings.tls_options == {
        "ssl_certfile": str(tmp_path / "cert.pem"),
        "ssl_keyfile": str(tmp_path / "key.pem"),
    }
    assert Settings().tls_options == {} and Settings().api_url.startswith("http://")


def test_allowed_hosts_are_a_comma_separated_list() -> None:
    assert Settings(allowed_hosts=" perfpulse.internal, ,grafana.local:3000").allowed_host_list == [
        "perfpulse.internal",
        "grafana.local:3000",
    ]


def test_kafka_security_comes_from_the_environment_and_its_password_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password = "pw-0c5e-kafka"
    for name, value in {
        "SECURITY_PROTOCOL": "SASL_SSL",
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": "svc",
        "SASL_PASSWORD": password,
        "SSL_CAFILE": str(tmp_path / "ca.pem"),
    }.items():
        monkeypatch.setenv(f"PERFPULSE_KAFKA_{name}", value)
    settings = Settings()
    expected = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "svc", SecretStr(password), cafile=str(tmp_path / "ca.pem"))
    assert settings.kafka_security == expected
    for shown in (repr(settings), str(settings), settings.model_dump_json(), settings.kafka_security.at("k:9092")):
        assert password not in shown


def test_kafka_sasl_without_a_password_and_unknown_protocols_are_refused() -> None:
    with pytest.raises(ValidationError, match="SASL_PLAINTEXT needs a SASL username and password"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="svc")
    with pytest.raises(ValidationError, match="kafka_security_protocol"):
        Settings(kafka_security_protocol="TLS")
    with pytest.raises(ValidationError, match="kafka_sasl_mechanism"):
        Settings(kafka_sasl_mechanism="GSSAPI")
