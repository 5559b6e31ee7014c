"""A perfpulse deployment per test: stream worker(s) and the API (with the sink, owning chDB) as
real processes, started through the CLI on the session's Kafka, with their own topics and data dir."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from perfpulse.processes import ProcessGroup, wait_http_ok
from perfpulse.runner import settings_env
from perfpulse.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@dataclass
class Deployment:
    settings: Settings
    processes: ProcessGroup

    @property
    def url(self) -> str:
        return self.settings.api_url

    def start(self, name: str, *command: str) -> None:
        """Start ``perfpulse <command>`` as ``name`` (e.g. start("worker-1", "worker")); for the
        API, wait until it answers."""
        self.processes.start(name, *command)
        if command[0] == "api":
            alive = lambda: name not in self.processes.exited()  # noqa: E731
            assert wait_http_ok(f"{self.url}/healthz", 60, alive), f"the API of {name} did not come up"

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.processes.kill(name, sig)

    def stop_all(self) -> None:
        self.processes.stop_all()

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, timeout=30)

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=60)

    def total_count(self, metric: str, start_ms: int, end_ms: int) -> int:
        body = self.get("/api/v1/query", metric=metric, start=start_ms, end=end_ms, stats="count", group_by="").json()
        return sum(p["count"] for s in body["series"] for p in s["points"])

    def wait_count(self, metric: str, start_ms: int, end_ms: int, expected: int, timeout_s: float = 90) -> None:
        seen: list[int] = []

        def reached() -> bool:
            seen.append(self.total_count(metric, start_ms, end_ms))
            assert seen[-1] <= expected, f"{metric}: {seen[-1]} points stored, more than the {expected} sent"
            return seen[-1] == expected

        try:
            wait_for(reached, timeout_s, f"{expected} points of {metric}", interval_s=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last count {seen[-1] if seen else None}") from None


@pytest.fixture
def deployment(settings: Settings, tmp_path: Path) -> Iterator[Deployment]:
    """Worker + API(+sink) for one test; stopped afterwards. Logs under tmp_path/logs."""
    logs = tmp_path / "logs"
    configured = settings.model_copy(update={"api_port": free_port(), "otlp_port": free_port()})
    env = settings_env(configured)
    env["PERFPULSE_LOG_FORMAT"] = "json"
    deployed = Deployment(configured, ProcessGroup(env, logs))
    deployed.start("api", "api")
    deployed.start("worker-1", "worker")
    yield deployed
    deployed.stop_all()
    if os.environ.get("PERFPULSE_TEST_SHOW_LOGS"):
        for log in sorted(logs.iterdir()):
            print(f"--- {log.name}\n{log.read_text()[-5000:]}")
