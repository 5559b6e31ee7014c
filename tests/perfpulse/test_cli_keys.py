"""``perfpulse keys create|list|revoke`` as a user runs them (subprocesses), with perfpulse stopped
(the command opens the store) and running over HTTPS (the command goes through the API with the
control token); ``perfpulse api`` serving HTTPS, and refusing to listen beyond loopback without a key."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage import open_store
from tests.alerting.receivers import free_port

REPO = Path(__file__).resolve().parents[2]


def cli_env(data_dir: Path, kafka_bootstrap: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFPULSE_")}
    env.update(
        COLUMNS="300",
        PERFPULSE_DATA_DIR=str(data_dir),
        PERFPULSE_KAFKA_BOOTSTRAP=kafka_bootstrap,
        PERFPULSE_REDIS_URL=redis_url,
        PERFPULSE_TOPIC_PREFIX=f"t{data_dir.parent.name[-12:]}.",
        PERFPULSE_OTLP_PORT="0",
        PERFPULSE_LOG_FORMAT="console",
        **extra,
    )
    return env


def perfpulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfpulse", *args], capture_output=True, text=True, timeout=180, cwd=REPO, env=env
    )


def created_key(done: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(id, key) from ``keys create``: the key is the last word of the last line."""
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    key = lines[-1].split()[-1]
    assert key.startswith("pp_") and len(key) == 55, done.stdout
    key_id = lines[0].split("created API key ", 1)[1].split()[0]
    return key_id, key


def test_keys_while_perfpulse_is_stopped(tmp_path: Path, kafka_bootstrap: str, redis_url: str) -> None:
    env = cli_env(tmp_path / "data", kafka_bootstrap, redis_url)
    key_id, key = created_key(perfpulse(env, "keys", "create", "--scope", "ingest", "--name", "collector"))
    listed = perfpulse(env, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout and "collector" in listed.stdout and "ingest" in listed.stdout
    assert key not in listed.stdout + listed.stderr
    revoked = perfpulse(env, "keys", "revoke", key_id)
    assert revoked.returncode == 0 and f"revoked API key {key_id}" in revoked.stdout
    unknown = perfpulse(env, "keys", "revoke", "nope")
    assert unknown.returncode == 1 and "no key has this id" in unknown.stderr
    bad = perfpulse(env, "keys", "create", "--scope", "root")
    assert bad.returncode == 1 and "must be one of ingest, read, admin" in bad.stderr
    store = open_store(f"chdb://{tmp_path / 'data' / 'clickhouse'}", pool_size=1)
    try:
        dump = str(store.rows("SELECT * FROM api_keys"))
    finally:
        store.close()
    assert key_id in dump and key not in dump and key.removeprefix("pp_") not in dump


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, made by openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_api(
    tmp_path: Path, kafka_bootstrap: str, certificate: tuple[Path, Path]
) -> Iterator[tuple[dict[str, str], str, ssl.SSLContext, subprocess.Popen[str]]]:
    """``perfpulse api`` over HTTPS on a free port; its Redis URL carries a password (which must never
    be printed). Yields the CLI's environment, the base URL, a context trusting the certificate, the process."""
    port = free_port()
    cert, key = certificate
    env = cli_env(
        tmp_path / "data",
        kafka_bootstrap,
        "redis://:s3cret-redis@127.0.0.1:1/0",
        PERFPULSE_API_PORT=str(port),
        PERFPULSE_TLS_CERT=str(cert),
        PERFPULSE_TLS_KEY=str(key),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "perfpulse", "api"], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    trust = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(f"{url}/healthz", verify=trust, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not come up"
        time.sleep(0.5)
    try:
        yield env, url, trust, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_keys_through_a_running_api_over_https(
    https_api: tuple[dict[str, str], str, ssl.SSLContext, subprocess.Popen[str]],
) -> None:
    env, url, trust, process = https_api
    token = Path(env["PERFPULSE_DATA_DIR"]) / "control.token"
    assert token.stat().st_mode & 0o777 == 0o600
    # The store is held by the API: the command goes through it, with the control token.
    key_id, key = created_key(perfpulse(env, "keys", "create", "--scope", "read", "--name", "grafana"))
    with httpx.Client(base_url=url, verify=trust, timeout=10) as client:
        assert client.get("/api/v1/services").status_code == 401
        assert client.get("/api/v1/services", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        listed = perfpulse(env, "keys", "list")
        assert listed.returncode == 0 and key_id in listed.stdout and "grafana" in listed.stdout
        assert perfpulse(env, "keys", "revoke", key_id).returncode == 0
        assert client.get("/api/v1/services", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    # HTTPS only: plain HTTP on the port gets no answer.
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://") + "/healthz", timeout=5)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=30)[0]
    assert "s3cret-redis" not in output and key not in output
    assert not token.exists()  # removed at shutdown


def test_the_api_refuses_to_listen_beyond_loopback_without_a_key(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str
) -> None:
    env = cli_env(tmp_path / "data", kafka_bootstrap, redis_url, PERFPULSE_API_HOST="0.0.0.0", PERFPULSE_API_PORT="0")
    done = subprocess.run(
        [sys.executable, "-m", "perfpulse", "api"], capture_output=True, text=True, timeout=180, cwd=REPO, env=env
    )
    assert done.returncode != 0
    assert "cannot serve the API beyond loopback without an API key" in done.stdout + done.stderr
    assert "perfpulse keys create --scope admin" in done.stdout + done.stderr
