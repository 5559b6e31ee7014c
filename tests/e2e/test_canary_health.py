"""Canary verdicts and health scores end to end on real Kafka and chDB: two releases' requests in
over HTTP ingest, through the stream stage's windows and the sink, then a verdict from the API and
from ``perfpulse canary`` (exit code), and the health score of each instance."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from perfpulse.runner import settings_env
from tests.e2e.conftest import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

METRIC = "http.server.duration"


def send(deployment: Deployment, version: str, instance: str, values: np.ndarray, status: str, now_ms: int) -> None:
    """``values`` as requests of checkout over the last 20 s (older than window + grace)."""
    ts = now_ms - np.random.default_rng(len(values)).integers(3_000, 20_000, len(values))
    labels = {"version": version, "instance": instance, "status_code": status}
    points = [
        {"name": METRIC, "value": float(v), "ts": int(t), "labels": labels} for v, t in zip(values, ts, strict=True)
    ]
    response = deployment.post("/api/v1/ingest/metrics", {"service": "checkout", "points": points})
    assert response.status_code == 202, response.text


def test_a_slower_release_fails_its_canary_and_lowers_its_instance_score(deployment: Deployment) -> None:
    now_ms = time.time_ns() // 1_000_000
    base = np.random.default_rng(3).lognormal(3.5, 0.6, 3_000)  # p95 ~ 89 ms: on target
    send(deployment, "1.4", "10.0.0.1:8080", base, "200", now_ms)
    send(deployment, "1.5", "10.0.0.2:8080", base * 1.10, "200", now_ms)
    send(deployment, "1.5", "10.0.0.2:8080", base[:30], "503", now_ms)  # 1 % errors on the new release
    deployment.wait_count(METRIC, now_ms - 60_000, now_ms + 1_000, 6_030)

    body = {"metric": METRIC, "baseline": {"version": "1.4"}, "candidate": {"version": "1.5"}, "window": "5m"}
    answer = deployment.post("/api/v1/canary", body).json()
    assert answer["verdict"] == "fail", answer
    assert (answer["baseline"]["count"], answer["candidate"]["count"], answer["candidate"]["errors"]) == (
        3_000,
        3_030,
        30,
    )
    assert {r.split(" ", 1)[0] for r in answer["reasons"]} == {"p95", "error"}  # both regressions named

    cli = subprocess.run(
        [sys.executable, "-m", "perfpulse", "canary", "--baseline", "version=1.4", "--candidate", "version=1.5",
         "--service", "checkout", "--window", "5m", "--url", deployment.url],
        env=settings_env(deployment.settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 1 and cli.stdout.startswith("canary fail:"), cli.stdout + cli.stderr

    health = deployment.get("/api/v1/services/checkout/health", instance="10.0.0.1:8080,10.0.0.2:8080").json()
    old, new = health["health"]
    assert old["score"] == 1.0 and old["requests"] == 3_000
    assert new["requests"] == 3_030 and new["score"] == pytest.approx(0.001 / (30 / 3_030))  # 0.1 % / 0.99 %
    assert health["score"] == new["score"]
