"""A perfpulse deployment per test: stream worker(s) and the API (with the sink, owning chDB) as
real processes, started through the CLI on the session's Kafka, with their own topics and data dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

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
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.settings.api_url

    def start(self, name: str, *args: str) -> None:
        """Start ``perfpulse <command>`` as ``name`` (e.g. start("worker-1", "worker"))."""
        env = settings_env(self.settings)
        env["PERFPULSE_LOG_FORMAT"] = "json"
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "perfpulse", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if args[0] == "api":
            wait_for(self._api_up, 60, f"the API of {name}")

    def _api_up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=60)

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name in list(self.processes):
            try:
                self.processes[name].wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.processes[name].kill()
        self.processes.clear()

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
    logs.mkdir()
    configured = settings.model_copy(update={"api_port": free_port()})
    deployed = Deployment(configured, logs)
    deployed.start("api", "api")
    deployed.start("worker-1", "worker")
    yield deployed
    deployed.stop_all()
    if os.environ.get("PERFPULSE_TEST_SHOW_LOGS"):
        for log in sorted(logs.iterdir()):
            print(f"--- {log.name}\n{log.read_text()[-5000:]}")
