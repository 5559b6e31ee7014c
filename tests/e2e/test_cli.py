"""The CLI as a newcomer uses it: `perfpulse up` with demo traffic, `perfpulse infra ...`,
`perfpulse migrate`, and clear errors."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from perfpulse.runner import settings_env
from perfpulse.settings import Settings
from storage.migrate import load_migrations
from tests.e2e.conftest import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def perfpulse(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfpulse", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_up_runs_every_stage_with_demo_traffic(settings: Settings, tmp_path: Path) -> None:
    configured = settings.model_copy(update={"api_port": free_port(), "otlp_port": free_port()})
    env = settings_env(configured)
    log = open(tmp_path / "up.log", "w+")  # noqa: SIM115 - closed below
    up = subprocess.Popen([sys.executable, "-m", "perfpulse", "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = configured.api_url
    try:
        # A fresh data dir: up makes an admin key and prints it once in its banner.
        wait_for(lambda: "admin key" in (tmp_path / "up.log").read_text(), 120, "the banner with the admin key")
        banner = (tmp_path / "up.log").read_text()
        key = banner.split("admin key", 1)[1].split("\n", 1)[0].split()[-1]
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{url}/api/v1/services", timeout=5).status_code == 401

        def three_services_with_percentiles() -> bool:
            try:
                body = httpx.get(
                    f"{url}/api/v1/query",
                    params={"metric": "http.server.duration", "stats": "p50,p95,p99,count", "step": "1s"},
                    headers=auth,
                    timeout=5,
                ).json()
            except httpx.HTTPError:
                return False
            services = {s["group"]["service"] for s in body.get("series", []) if s["points"]}
            return services == {"gateway", "orchestrator", "frontend"}

        wait_for(three_services_with_percentiles, 120, "demo percentiles of the three services")
        body = httpx.get(
            f"{url}/api/v1/query", params={"metric": "http.server.duration", "step": "1s"}, headers=auth
        ).json()
        for series in body["series"]:
            for point in series["points"]:
                assert 0 < point["p50"] <= point["p95"] <= point["p99"], point
        # RED reads the per-minute tier for whole minutes; rows reach it just after the window rows.
        wait_for(
            lambda: (
                {s["service"] for s in httpx.get(f"{url}/api/v1/services", headers=auth).json()["services"] if s["red"]}
                == {"gateway", "orchestrator", "frontend"}
            ),
            30,
            "RED figures of the three services",
        )
        wait_for(
            lambda: (
                {
                    (e["caller"], e["callee"])
                    for e in httpx.get(f"{url}/api/v1/dependencies", headers=auth).json()["edges"]
                }
                == {("frontend", "gateway"), ("gateway", "orchestrator")}
            ),
            60,
            "the demo's service graph",
        )
        exposition = httpx.get(f"{url}/metrics", headers=auth).text
        processed = [line for line in exposition.splitlines() if line.startswith("perfpulse_stream_points_total")]
        assert processed and float(processed[0].split()[-1]) > 0, "the worker's counters reach /metrics"
        assert "perfpulse_sink_insert_seconds_bucket" in exposition
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=60)
        log.seek(0)
        output = log.read()
        log.close()
    assert code == 0, output[-3000:]
    assert "perfpulse is up" in output and f"API {url}" in output
    assert output.count(key) == 2  # the banner's key line and its curl example, nowhere else
    assert "perfpulse stopped" in output


def test_infra_up_status_down_manage_a_local_redis(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    configured = settings.model_copy(
        update={"data_dir": tmp_path / "infra", "redis_url": f"redis://127.0.0.1:{port}/0"}
    )
    env = settings_env(configured)
    started = perfpulse(env, "infra", "up")
    assert started.returncode == 0, started.stderr
    assert "kafka: external" in started.stderr or "kafka: running" in started.stderr
    assert f"redis: started (redis://127.0.0.1:{port}/0)" in started.stderr
    status = perfpulse(env, "infra", "status")
    assert status.returncode == 0 and status.stdout.count(" up ") == 2, status.stdout
    stopped = perfpulse(env, "infra", "down")
    assert "redis: stopped" in stopped.stderr
    status = perfpulse(env, "infra", "status")
    assert status.returncode == 1 and "down" in status.stdout


def test_migrate_is_idempotent_and_a_held_store_is_refused_clearly(settings: Settings, tmp_path: Path) -> None:
    env = settings_env(settings)
    first = perfpulse(env, "migrate")
    assert first.returncode == 0, first.stderr
    assert f"{len(load_migrations())} migration(s) applied" in first.stderr
    again = perfpulse(env, "migrate")
    assert "0 migration(s) applied" in again.stderr
    hold = "import sys, time; from storage import open_store; store = open_store(sys.argv[1]); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, settings.store_url])
    try:
        wait_for(lambda: (Path(settings.store_url.removeprefix("chdb://")) / "status").exists(), 30, "the holder")
        blocked = perfpulse(env, "migrate")
    finally:
        holder.kill()
        holder.wait()
    assert blocked.returncode == 1
    assert "another process (a running perfpulse) owns it" in blocked.stderr


def test_invalid_settings_are_reported_not_raised(settings: Settings) -> None:
    env = settings_env(settings)
    env["PERFPULSE_WINDOW"] = "7s"
    result = perfpulse(env, "migrate")
    assert result.returncode == 2
    assert "must divide a minute" in result.stderr and "Traceback" not in result.stderr


def test_worker_reports_its_stage_and_leaves_promptly_on_sigterm(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = {**settings_env(settings), "PERFPULSE_HEALTH_PORT": str(port)}
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "perfpulse", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )

    def stream_ready() -> bool:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and "partitions assigned" in answer.json()["stages"]["stream"]["detail"]

    try:
        wait_for(stream_ready, 90, "the worker's stream stage to own partitions")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            # Stopped inside a loop not its own, Faust once kept such a worker 25 s past SIGTERM.
            code = worker.wait(timeout=15)
        finally:
            worker.kill()
            log.seek(0)
            output = log.read()
            log.close()
    assert code == 0, output[-3000:]
