"""``perfpulse canary`` as a deploy pipeline runs it (a subprocess) against ``perfpulse api`` serving a
store seeded with three releases: exit 1 with the figures for a 10 % slower one, 0 for an equal one,
2 for one with too few requests, 3 when no verdict can be had."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from perfpulse.canary import CanaryError, parse_labels
from perfpulse.processes import wait_http_ok
from storage import apply_migrations, open_store
from tests.alerting.receivers import free_port
from tests.perfpulse.test_cli_keys import REPO, cli_env, created_key, perfpulse
from tests.storage.builders import insert_rows, window_row


def seed(data_dir: Path) -> None:
    """Four releases of checkout over 60 windows of the last 11 minutes (inside a 15m window)."""
    rng = np.random.default_rng(11)
    base = rng.lognormal(3.5, 0.6, 3_000)
    releases = {"1.4": base, "1.5": base * 1.10, "1.6": rng.lognormal(3.5, 0.6, 3_000), "1.7": base[:40]}
    start = (time.time_ns() // 1_000_000 - 660_000) // 1_000 * 1_000
    rows = [
        window_row(chunk, window_start_ms=start + i * 10_000, service="checkout",
                   labels={"version": version, "status_code": "200"})
        for version, values in releases.items()
        for i, chunk in enumerate(np.array_split(values, 60))
    ]  # fmt: skip
    store = open_store(f"chdb://{data_dir / 'clickhouse'}", pool_size=1)
    try:
        apply_migrations(store)
        insert_rows(store, rows)
    finally:
        store.close()


@pytest.fixture
def api(tmp_path: Path, kafka_bootstrap: str, redis_url: str) -> Iterator[dict[str, str]]:
    """``perfpulse api`` on a free port over the seeded data dir; yields the CLI's environment."""
    seed(tmp_path / "data")
    port = free_port()
    env = cli_env(tmp_path / "data", kafka_bootstrap, redis_url, PERFPULSE_API_PORT=str(port), PERFPULSE_WINDOW="1s")
    process = subprocess.Popen(
        [sys.executable, "-m", "perfpulse", "api"], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        up = wait_http_ok(f"http://127.0.0.1:{port}/healthz", 120, alive=lambda: process.poll() is None)
        assert up, process.communicate()[0] if process.poll() is not None else "the API did not come up in 120 s"
        yield env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def canary(env: dict[str, str], candidate: str, *more: str) -> subprocess.CompletedProcess[str]:
    fixed = [
        "--metric",
        "http.server.duration",
        "--baseline",
        "version=1.4",
        "--service",
        "checkout",
        "--window",
        "15m",
    ]
    return perfpulse(env, "canary", *fixed, "--candidate", f"version={candidate}", *more)


def test_verdicts_as_exit_codes(api: dict[str, str]) -> None:
    slower = canary(api, "1.5")
    assert slower.returncode == 1, slower.stdout + slower.stderr
    lines = slower.stdout.splitlines()
    assert lines[0] == "canary fail: http.server.duration of checkout"
    assert lines[1].strip().startswith("p95 ") and "+10." in lines[1]
    p95 = next(line.split() for line in lines if line.strip().startswith("p95 ms"))
    assert float(p95[3]) == pytest.approx(float(p95[2]) * 1.10, rel=2e-3) and p95[4].startswith("+10.")
    assert "count" in slower.stdout and "3000" in slower.stdout and "KS D+" in slower.stdout

    equal = canary(api, "1.6")
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert equal.stdout.startswith("canary pass:")

    few = canary(api, "1.7")
    assert few.returncode == 2, few.stdout + few.stderr
    assert "candidate has 40 observations, fewer than 100" in few.stdout
    assert canary(api, "1.5", "--threshold", "0.2").returncode == 0

    # Once a key exists the API wants one: a read key from the environment (never printed) or --key.
    _, key = created_key(perfpulse(api, "keys", "create", "--scope", "read", "--name", "pipeline"))
    refused = canary(api, "1.5")
    assert refused.returncode == 3 and "401" in refused.stderr and "--key or PERFPULSE_API_KEY" in refused.stderr
    keyed = canary({**api, "PERFPULSE_API_KEY": key}, "1.5")
    assert keyed.returncode == 1 and key not in keyed.stdout + keyed.stderr
    assert canary(api, "1.6", "--key", key).returncode == 0


def test_no_verdict_exits_3(tmp_path: Path, kafka_bootstrap: str, redis_url: str) -> None:
    env = cli_env(tmp_path / "data", kafka_bootstrap, redis_url)
    unreachable = canary(env, "1.5", "--url", f"http://127.0.0.1:{free_port()}", "--key", "pp_secret-key")
    assert unreachable.returncode == 3 and "cannot reach perfpulse" in unreachable.stderr
    assert "pp_secret-key" not in unreachable.stdout + unreachable.stderr
    unreadable = perfpulse(env, "canary", "--baseline", "version", "--candidate", "version=2")
    assert unreadable.returncode == 3 and "'version' is not name=value" in unreadable.stderr


def test_labels_are_name_value_pairs() -> None:
    assert parse_labels("--baseline", "version=1.4, region = eu") == {"version": "1.4", "region": "eu"}
    for bad in ("", "version=", "=1.4", "version=1.4,,"):
        with pytest.raises(CanaryError, match="is not name=value"):
            parse_labels("--baseline", bad)
