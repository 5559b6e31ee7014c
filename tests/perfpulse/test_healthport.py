"""perfpulse/healthport.py: the health endpoint of worker, sink and notifier processes, and their
reports to the process board."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.procboard import ProcessBoard
from api.selfstats import ProcessSample
from perfpulse.healthport import health_app, health_port
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


def test_a_stage_process_reports_its_resources_to_the_board_while_it_runs(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its Redis and namespace come from the environment, as a worker, sink or notifier process has them."""
    namespace = f"t{uuid.uuid4().hex[:10]}."
    monkeypatch.setenv("PERFPULSE_REDIS_URL", redis_url)
    monkeypatch.setenv("PERFPULSE_TOPIC_PREFIX", namespace)

    async def scenario() -> tuple[list[ProcessSample], list[ProcessSample]]:
        async with ProcessBoard(redis_url, namespace) as board:
            async with health_port([Reporting("sink", True), Reporting("notifier", True)], "127.0.0.1", 0):
                for _ in range(300):  # the first report is a thread's /proc read away
                    if during := await board.read():
                        break
                    await asyncio.sleep(0.1)
            return during, await board.read()

    during, after = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [(s.role, s.pid) for s in during] == [("sink+notifier", os.getpid())]
    assert during[0].rss_bytes and during[0].http_connections is None
    assert after == []  # taken off the board when the process stops
