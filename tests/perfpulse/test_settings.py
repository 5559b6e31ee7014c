"""Settings that concern security: TLS comes as a pair, URLs are shown without their secrets, Kafka's
security settings are complete or refused and never show their password, an https:// ClickHouse URL
is spoken over TLS."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from perfpulse.settings import Settings, mask_url
from schemas.kafka_security import KafkaSecurity
from storage import StoreError, open_store
from tests.tlscerts import SERVER, make_ca, sign


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


def test_an_https_clickhouse_url_speaks_tls_with_its_ca_and_never_shows_its_password(tmp_path: Path) -> None:
    """An HTTPS endpoint on loopback with a certificate of a CA made here: the store's client must
    finish the TLS handshake (trusting the URL's ``ca_cert``) before it can send its HTTP request."""
    ca = make_ca(tmp_path / "tls")
    cert, key = sign(tmp_path / "tls", "clickhouse", SERVER)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    requests: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        threading.Thread(target=_refuse_over_tls, args=(listener, context, requests), daemon=True).start()
        url = f"https://reader:pw-ch-2b7e@127.0.0.1:{listener.getsockname()[1]}/perfpulse?ca_cert={ca}"
        with pytest.raises(StoreError) as refused:
            open_store(Settings(clickhouse_url=url).store_url, pool_size=1)
    assert requests and requests[0].startswith((b"GET /", b"POST /"))  # HTTP, inside TLS
    assert "pw-ch-2b7e" not in str(refused.value) and "https://reader:***@127.0.0.1:" in str(refused.value)


def _refuse_over_tls(listener: socket.socket, context: ssl.SSLContext, requests: list[bytes]) -> None:
    """Answer each HTTPS request on ``listener`` with ClickHouse's authentication failure."""
    body = b"Code: 516. DB::Exception: reader: Authentication failed. (AUTHENTICATION_FAILED)\n"
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:  # closed by the test, or no client for 30 s
            return
        with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True) as tls:
            head = b""
            while b"\r\n\r\n" not in head and (chunk := tls.recv(4096)):
                head += chunk
            requests.append(head)
            tls.sendall(
                b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
