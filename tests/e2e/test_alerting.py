"""Alerting end to end: a breach in the traffic fires once at a real webhook receiver, a worker
killed while the alert fires neither re-sends the firing nor loses the resolution, and the alert is
visible in the API with its history."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.alerting.receivers import HttpReceiver, start_http
from tests.e2e.conftest import Deployment, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

RULES = """
channels:
  hook: {{type: webhook, url: "{url}/hook", secret: "s3cret"}}
alerts:
  - name: slow_checkout
    condition: http.server.duration.p95 > 200
    for: 2s
    keep_firing_for: 0s
    severity: warning
    notification: [hook]
"""


class Traffic(threading.Thread):
    """Requests of one service: fast, or slow while ``slow`` is set (every window breaches then)."""

    def __init__(self, deployment: Deployment) -> None:
        super().__init__(daemon=True)
        self.deployment = deployment
        self.slow = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            latency = 450.0 if self.slow.is_set() else 20.0
            now = time.time_ns() // 1_000_000
            body = {
                "service": "checkout",
                "points": [{"name": "http.server.duration", "value": latency, "ts": now}] * 50,
            }
            with contextlib.suppress(httpx.HTTPError):  # a client would retry; this one sends the next batch
                httpx.post(f"{self.deployment.url}/api/v1/ingest/metrics", json=body, timeout=10)
            time.sleep(0.1)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from start_http(HttpReceiver())


@pytest.fixture
def alerting(deployment: Deployment, receiver: HttpReceiver, tmp_path: Path) -> Iterator[Deployment]:
    """The deployment restarted with a rules file whose webhook is ``receiver``."""
    rules = tmp_path / "alerts.yaml"
    rules.write_text(RULES.format(url=receiver.url))
    deployment.stop_all()
    deployment.settings = deployment.settings.model_copy(update={"rules": rules, "api_port": free_port()})
    deployment.processes.env["PERFPULSE_RULES"] = str(rules)
    deployment.processes.env["PERFPULSE_API_PORT"] = str(deployment.settings.api_port)
    deployment.start("api", "api")
    deployment.start("worker-1", "worker")
    yield deployment


def notifications(receiver: HttpReceiver, status: str) -> list[dict[str, object]]:
    alerts = []
    for request in receiver.requests:
        if request.path.endswith("/hook"):
            alerts += [a for a in request.json()["alerts"] if a["status"] == status]
    return alerts


def test_a_breach_fires_once_and_resolves_once_across_a_worker_kill(
    alerting: Deployment, receiver: HttpReceiver
) -> None:
    traffic = Traffic(alerting)
    traffic.start()
    try:
        time.sleep(3)
        traffic.slow.set()
        wait_for(lambda: len(notifications(receiver, "firing")) >= 1, 60, "the firing notification")
        alerting.kill("worker-1")  # while the alert fires
        time.sleep(1)
        alerting.start("worker-1", "worker")
        time.sleep(6)  # the restarted worker evaluates more breaching windows
        traffic.slow.clear()
        wait_for(lambda: len(notifications(receiver, "resolved")) >= 1, 90, "the resolution")
        time.sleep(3)
    finally:
        traffic.stop.set()
        traffic.join()
    [firing] = notifications(receiver, "firing")
    [resolved] = notifications(receiver, "resolved")
    assert firing["labels"]["alertname"] == resolved["labels"]["alertname"] == "slow_checkout"
    assert firing["labels"]["service"] == "checkout"
    assert all("X-Perfpulse-Signature" in r.headers or "x-perfpulse-signature" in r.headers for r in receiver.requests)
    history = alerting.get("/api/v1/alerts/history", rule="slow_checkout").json()
    states = [entry["state"] for entry in reversed(history["history"])]
    assert states == ["pending", "firing", "resolved"], states
