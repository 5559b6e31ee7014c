"""`make loadtest` in small: the five Artillery scenarios of loadtest/ (normal, peak, stress, spike,
WebSocket) at 1 % of their users for 1 s each against a running deployment holding a trace, logs
and metrics. It asserts what the load test must get right at any size (every request answered
without error, every scenario's row in the report, the chart written), not how fast: the timed
figures are the full run's business (README, "Load tests")."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Deployment, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LOADTEST = Path(__file__).resolve().parents[2] / "loadtest"
ROWS = ("normal", "peak", "stress", "spike", "websocket connect", "websocket message")


def seed(deployment: Deployment) -> str:
    """Store one trace, a log line and metric points for the dashboard mix to read; the trace's id."""
    trace_id, now_ms = secrets.token_hex(16), time.time() * 1000
    span = {"traceId": trace_id, "spanId": secrets.token_hex(8), "operationName": "GET /load",
            "startTime": now_ms - 20, "endTime": now_ms, "kind": "server"}  # fmt: skip
    assert deployment.post("/api/v1/ingest/spans", {"service": "loadtest", "spans": [span]}).status_code == 202
    log = {"level": "info", "message": "load test seed", "trace_id": trace_id}
    assert deployment.post("/api/v1/ingest/logs", {"service": "loadtest", "logs": [log]}).status_code == 202
    points = [{"name": "http.server.duration", "value": 12.0, "labels": {"status_code": "200"}}]
    assert deployment.post("/api/v1/ingest/metrics", {"service": "loadtest", "points": points}).status_code == 202
    wait_for(lambda: deployment.get(f"/api/v1/traces/{trace_id}").status_code == 200, 60, f"trace {trace_id}")
    return trace_id


def test_loadtest_scenarios_run_without_errors_and_write_report_and_chart(
    deployment: Deployment, tmp_path: Path
) -> None:
    artillery = LOADTEST / "node_modules" / ".bin" / "artillery"
    assert artillery.exists(), f"{artillery} missing: `make loadtest-deps` installs it (make test does)"
    seed(deployment)
    results = tmp_path / "results"
    env = {
        **os.environ,
        "PERFPULSE_URL": deployment.url,
        "PERFPULSE_API_KEY": "",  # the deployment has no keys: reads and ingest are open
        "LOADTEST_DURATION_S": "1",
        "LOADTEST_SCALE": "0.01",
        "LOADTEST_RESULTS": str(results),
    }
    run = subprocess.run(["node", "run.mjs"], cwd=LOADTEST, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, f"node run.mjs exited {run.returncode}: {run.stderr}\n{run.stdout[-3000:]}"

    summary = json.loads((results / "summary.json").read_text())
    rows = {row["scenario"]: row for row in summary["rows"]}
    # Artillery's own CPU per scenario, read from /proc while it ran
    assert [g["scenario"] for g in summary["generator"]] == [*ROWS[:4], "websocket"], summary["generator"]
    assert all(g["cpuS"] > 0 and g["wallS"] > 0 for g in summary["generator"]), summary["generator"]
    assert set(rows) == set(ROWS), run.stdout
    for name in ROWS[:5]:
        assert rows[name]["requests"] > 0, f"{name} made no request: {run.stdout}"
        assert rows[name]["errorPct"] < 0.1, f"{name}: {rows[name]['errors']} errors: {run.stdout}"
    # The dashboard's whole mix was asked, the trace by id among it. (Artillery gives each user the
    # dashboard or the ingest round at random, 4 to 1: with 21 users none may be an ingest one.)
    # Samples are written in batches (processor.cjs): none is lost, each answer Artillery counted has one.
    for name in ROWS[:4]:
        counters = json.loads((results / f"{name}.artillery.json").read_text())["aggregate"]["counters"]
        lines = (results / f"{name}.samples.csv").read_text().splitlines()
        assert len(lines) == counters["http.responses"], f"{name}: {len(lines)} samples, {counters['http.responses']}"
    samples = "".join((results / f"{name}.samples.csv").read_text() for name in ROWS[:4])
    for endpoint in ("POST /api/v1/query/batch", "GET /api/v1/query", "GET /api/v1/services", "GET /api/v1/alerts",
                     "GET /api/v1/logs", "GET /api/v1/traces/{id}"):  # fmt: skip
        assert f",200,{endpoint}," in samples, f"{endpoint} never answered 200"
    # each answer's time in the app (its Server-Timing), the last field of its sample
    in_app = [line.rsplit(",", 1)[1] for line in samples.splitlines() if ",200,GET /api/v1/services," in line]
    assert in_app and all(float(ms) >= 0 for ms in in_app), in_app[:5]

    table = (results / "report.md").read_text()
    assert "| scenario | users | requests | p50 ms | p95 ms | p99 ms | req/s | errors | errors % | misses |" in table
    assert all(f"| {name} |" in table for name in ROWS), table
    assert "| request | answered | p50 ms | p95 ms | p99 ms | in app p50 ms | in app p95 ms | errors |" in table
    assert "Artillery's own CPU, in cores over each scenario's run: normal " in table
    png = (results / "latency.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000, f"latency.png: {len(png)} bytes"
