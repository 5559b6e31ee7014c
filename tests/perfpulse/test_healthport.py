"""perfpulse/healthport.py: the health endpoint of worker, sink and notifier processes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi.testclient import TestClient

from perfpulse.healthport import health_app
from schemas.stage import Health


@dataclass
class Reporting:
    """A stage that only reports a fixed health (the endpoint reads nothing else of a stage)."""

    name: str
    ok: bool

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

    def health(self) -> Health:
        return Health(self.name, self.ok, "fine" if self.ok else "cannot reach Kafka")


def test_ready_when_every_stage_is_healthy() -> None:
    client = TestClient(health_app([Reporting("sink", True), Reporting("notifier", True)]))
    assert client.get("/healthz").json() == {"status": "ok"}
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.json()["stages"]["notifier"] == {"ok": True, "detail": "fine"}


def test_one_unhealthy_stage_makes_the_process_not_ready_and_says_why() -> None:
    answer = TestClient(health_app([Reporting("sink", True), Reporting("stream", False)])).get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["stages"]["stream"] == {"ok": False, "detail": "cannot reach Kafka"}


def test_metrics_are_served_in_prometheus_text() -> None:
    answer = TestClient(health_app([])).get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
