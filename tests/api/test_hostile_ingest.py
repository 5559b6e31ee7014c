"""Ingest bodies that cost the most, through the real app served by uvicorn (real Kafka, real chDB):
their work runs in a worker process (``/healthz`` answers while a 16 MiB body of each kind is processed),
under a concurrency limit (503 with Retry-After once every slot is taken), and a gzip stream of many
members is refused past the member bound; a worker process killed while it holds a body answers
that request 503 and is replaced."""

from __future__ import annotations

import gzip
import itertools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bench.ingest_healthz import logs_body, metrics_body, otlp_spans_body
from ingest.receivers.inflate import MAX_GZIP_MEMBERS
from ingest.receivers.offload import IngestWorkers
from perfpulse.app import create_app
from perfpulse.settings import Settings
from tests.api.apps import assert_error_shape
from tests.ingest.helpers import serving

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
JSON = {"content-type": "application/json"}


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, Any]]:
    """The API app on a free port (no sink, no notifier): its base URL and the app."""
    app = create_app(settings, with_sink=False, with_notifier=False)
    with serving(app) as url:
        yield url, app


class Post(threading.Thread):
    """One POST in a thread of its own; ``done_at`` is when its answer arrived (monotonic s)."""

    def __init__(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.body, self.headers = url, body, headers
        self.response: httpx.Response | None = None
        self.done_at = float("inf")

    def run(self) -> None:
        self.response = httpx.post(self.url, content=self.body, headers=self.headers, timeout=300)
        self.done_at = time.monotonic()


BODIES: dict[str, tuple[str, Callable[[int], bytes], dict[str, str], int]] = {
    "metrics": ("/api/v1/ingest/metrics", lambda now_ns: metrics_body(now_ns // 1_000_000), JSON, 202),
    "logs": ("/api/v1/ingest/logs", lambda now_ns: logs_body(now_ns // 1_000_000), JSON, 202),
    "otlp spans": ("/v1/traces", otlp_spans_body, {"content-type": "application/x-protobuf"}, 200),
}


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_healthz_answers_while_a_16_mib_body_is_processed(served: tuple[str, Any], kind: str) -> None:
    """The body's work runs in an ingest worker process: the API process answers meanwhile (how fast
    is measured by bench/ingest_healthz.py, not asserted here)."""
    url, app = served
    path, make, headers, accepted = BODIES[kind]
    body = make(time.time_ns())
    workers: IngestWorkers = app.state.ingest.workers
    ingest = Post(f"{url}{path}", body, headers)
    ingest.start()
    while workers.busy == 0 and ingest.is_alive():  # admitted: its body is being read or processed
        time.sleep(0.005)
    answered: list[float] = []  # when each /healthz answer came while ingest ran
    with httpx.Client(base_url=url, timeout=30) as health:
        while ingest.is_alive():
            assert health.get("/healthz").status_code == 200
            answered.append(time.monotonic())
            time.sleep(0.02)
    ingest.join()
    assert ingest.response is not None and ingest.response.status_code == accepted, ingest.response
    assert workers.processes.started == 1  # the work went to a worker process
    if kind != "otlp spans":
        assert ingest.response.json() == {"accepted": 50_000 if kind == "metrics" else 10_000}
    # Several answers came back while the 16 MiB body was still being processed (on the loop, the
    # first would have waited for the whole body).
    assert len([t for t in answered if t < ingest.done_at]) >= 3, len(answered)


def test_a_request_past_the_concurrency_limit_gets_503_with_retry_after(served: tuple[str, Any]) -> None:
    url, app = served
    workers = IngestWorkers(threads=1, slots=1, queue=0)  # no waiting: one more is refused at once
    app.state.ingest.workers = workers
    first = Post(f"{url}/api/v1/ingest/logs", logs_body(time.time_ns() // 1_000_000), JSON)
    first.start()
    while workers.busy == 0 and first.is_alive():
        time.sleep(0.005)
    assert workers.busy == 1
    small = {"service": "hostile", "logs": [{"level": "info", "message": "one more"}]}
    refused = httpx.post(f"{url}/api/v1/ingest/logs", json=small, timeout=30)
    otlp = httpx.post(f"{url}/v1/logs", json={"resourceLogs": []}, timeout=30)
    first.join()
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert_error_shape(refused.json(), "server")
    assert "the limit is 1 and 0 waiting" in refused.json()["details"][0]["msg"]
    assert otlp.status_code == 503 and int(otlp.headers["retry-after"]) >= 1, otlp.text
    assert first.response is not None and first.response.status_code == 202
    # the slot is free again: the same small request is taken
    assert httpx.post(f"{url}/api/v1/ingest/logs", json=small, timeout=30).status_code == 202


def test_gzip_of_many_members_is_refused_past_the_member_bound(served: tuple[str, Any]) -> None:
    url, _ = served
    point = {"name": "m", "value": 1.0}
    member = gzip.compress(orjson.dumps({"service": "a", "points": [point]}))
    empty = gzip.compress(b"")
    # 16 MiB of empty members (about 800,000): refused after the first 1,024, without inflating the rest
    bomb = member + empty * ((16 * MIB - len(member)) // len(empty))
    response = httpx.post(
        f"{url}/api/v1/ingest/metrics", content=bomb, headers={**JSON, "content-encoding": "gzip"}, timeout=60
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [{"loc": "body", "msg": f"more than {MAX_GZIP_MEMBERS} gzip members"}]
    # as many members as the bound allows are inflated and read as one body
    fine = member + empty * (MAX_GZIP_MEMBERS - 1)
    response = httpx.post(
        f"{url}/api/v1/ingest/metrics", content=fine, headers={**JSON, "content-encoding": "gzip"}, timeout=60
    )
    assert response.status_code == 202 and response.json() == {"accepted": 1}, response.text


def test_gzip_members_split_across_pieces_inflate_whole(served: tuple[str, Any]) -> None:
    """Members larger than the 64 KiB pieces zlib is fed, and members ending inside a piece."""
    url, _ = served
    now = time.time_ns() // 1_000_000
    points = [{"name": "m", "value": float(i), "ts": now, "labels": {"pad": "x" * 200}} for i in range(2_000)]
    text = orjson.dumps({"service": "a", "points": points})
    # the same JSON cut into three members: big (uncompressible-ish), tiny, and the rest
    cuts = [0, len(text) // 3, len(text) // 3 + 7, len(text)]
    body = b"".join(gzip.compress(text[a:b], compresslevel=0) for a, b in itertools.pairwise(cuts))
    assert len(body) > 3 * 64 * 1024
    response = httpx.post(
        f"{url}/api/v1/ingest/metrics", content=body, headers={**JSON, "content-encoding": "gzip"}, timeout=60
    )
    assert response.status_code == 202 and response.json() == {"accepted": 2_000}, response.text


def _worker_processes() -> list[int]:
    """This process's spawned worker processes (its multiprocessing resource tracker left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == os.getpid() and b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(int(entry.name))
    return found


def test_a_worker_killed_while_it_holds_a_body_answers_503_and_is_replaced(served: tuple[str, Any]) -> None:
    url, app = served
    workers: IngestWorkers = app.state.ingest.workers
    others = set(_worker_processes())  # of other apps of this test process: left alone
    ingest = Post(f"{url}/api/v1/ingest/logs", logs_body(time.time_ns() // 1_000_000), JSON)
    ingest.start()
    while not (pids := set(_worker_processes()) - others) and ingest.is_alive():  # started for this body
        time.sleep(0.01)
    for pid in pids:  # the body takes seconds of work: it is in a worker's hands or queued for one
        os.kill(pid, signal.SIGKILL)
    ingest.join()
    assert ingest.response is not None
    assert ingest.response.status_code == 503, ingest.response.text
    assert ingest.response.headers["retry-after"] == "5"
    assert_error_shape(ingest.response.json(), "server")
    assert "ended while processing the request" in ingest.response.json()["details"][0]["msg"]
    # the next large body gets new workers
    records = [{"level": "info", "message": "m" * 1_000} for _ in range(100)]
    retried = httpx.post(f"{url}/api/v1/ingest/logs", json={"service": "a", "logs": records}, timeout=120)
    assert retried.status_code == 202 and retried.json() == {"accepted": 100}, retried.text
    assert workers.processes.started == 2 and workers.busy == 0
