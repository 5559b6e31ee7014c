"""``make bench``: end-to-end figures of perfpulse on this machine, real Kafka and chDB.

Scenarios (each on a fresh all-in-one deployment: API + sink owning chDB, stream workers, a Redis;
all on one Kafka broker, warmed first by bench/kafkawarm.py):

1. throughput: 5M points (``BENCH_POINTS``) sent through the SDK by a separate process as fast as it
   goes, one bound ``observe()`` per point, then with ``observe_many``; from the first send until
   all are queryable through /api/v1/query (1 s window, 1 s grace). The run must outlast that path's
   fixed delay (window, grace, tick, insert: ~2-3 s) for its rate to measure throughput, not latency;
   1M points took ~2 s to send;
2. freshness: a steady 50k points/s for 30 s (1 s window, 1 s grace); emit-to-queryable per point;
3. query latency: 10M points over the last hour (default 10 s window), then a mix of dashboard
   queries (whole hour, per minute, last 15 min per 10 s by route, one route), the query caches off;
   cached: 1M points over the last hour, then 64 clients ask the dashboard's mix (bench/cached.py)
   with ``end`` now for 20 s, closed loop, caches on;
4. spans: OTLP/HTTP protobuf traces in until queryable by id, then 10M spans stored and trace-by-id
   lookups over them;
5. alerts: 1,000 services, a rule each, 100 of them breach for one 1 s window; from the window's end
   to the webhook received (two workers).
6. live: 1,000 WebSocket clients of the live feed, 10 metric subscriptions each, points of the 10
   metrics every 100 ms for 30 s (1 s window, 1 s grace); from a window stored (the sink's message) to
   its result received, and results received per second.
7. dashboard: demo traffic for 60 s, then 10 cold loads of the overview in headless chromium, each
   from navigation to the first chart with data painted (dashboard/e2e/firstrender.mjs).

``python -m bench NAME ...`` runs some of them. Prints a table and the last line ``RESULT
name=value ...`` with every figure measured."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from api.cache import TRACE_ENTRIES
from bench.accuracy import run as accuracy
from bench.kafkawarm import warm_kafka
from bench.live import measure as live_measure
from infra import LocalKafka, LocalRedis
from perfpulse.logs import configure_logging
from perfpulse.processes import ProcessGroup, wait_http_ok
from perfpulse.runner import settings_env
from perfpulse.settings import Settings
from schemas.alerts import State, decode_transition

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / ".perfpulse-bench"
KAFKA_PORT = int(os.environ.get("BENCH_KAFKA_PORT", "29092"))  # the bench's own Kafka (another port beside a dev one)
API_PORT = 28080
REDIS_PORT = 28379  # the bench's own Redis, one per deployment (as `perfpulse up` starts one)
METRIC = "http.server.duration"
console = Console(stderr=True)


@dataclass
class Deployment:
    settings: Settings
    group: ProcessGroup
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    rss_mb: list[float] = field(default_factory=list)

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"{self.settings.api_url}{path}", params=params)
        response.raise_for_status()
        return response.json()

    def count(self, metric: str, start: int, end: int) -> int:
        body = self.get("/api/v1/query", metric=metric, start=start, end=end, stats="count", group_by="")
        return sum(p["count"] for s in body["series"] for p in s["points"])

    def wait_count(self, metric: str, start: int, end: int, expected: int, timeout_s: float) -> float:
        """Poll until ``expected`` points are queryable; return the wall-clock time it happened."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.count(metric, start, end) >= expected:
                return time.time()
            time.sleep(0.1)
        raise RuntimeError(f"{metric}: {expected} points not queryable after {timeout_s:.0f} s")

    def worker_pids(self) -> list[int]:
        return [p.pid for name, p in self.group.processes.items() if name.startswith("worker")]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def sample_rss(deployment: Deployment) -> Iterator[None]:
    """Sample the stream workers' resident memory every 0.5 s while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.5):
            for pid in deployment.worker_pids():
                with contextlib.suppress(OSError):  # the worker may just have exited
                    deployment.rss_mb.append(_rss_mb(pid))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def deployed(name: str, window: str, grace: str, rules: Path | None = None, workers: int = 1) -> Iterator[Deployment]:
    """perfpulse with a Redis of its own, as ``perfpulse up`` runs it: without one, the API cannot
    hear which windows were stored and keeps query answers up to ``api.cache.UNHEARD_TTL_S``, which
    a figure timing "until queryable" would count (the throughput scenario's tail was ~1 s longer)."""
    data = HOME / name
    extra: dict[str, Any] = {"rules": rules} if rules else {}
    with contextlib.ExitStack() as stopping:  # stops the processes, then the client, then Redis
        redis = LocalRedis(HOME / "redis", port=REDIS_PORT)
        redis.start()
        stopping.callback(redis.stop)
        settings = Settings(
            redis_url=redis.url,
            kafka_bootstrap=f"127.0.0.1:{KAFKA_PORT}",
            data_dir=data,
            topic_prefix=f"bench-{name}-{int(time.time())}.",
            consumer_group=f"bench-{name}-{int(time.time())}",
            window=window,
            grace=grace,
            api_port=API_PORT,
            log_format="json",
            log_level="warning",
            **extra,
        )
        subprocess.run(
            [sys.executable, "-m", "perfpulse", "migrate"], env=settings_env(settings), check=True, capture_output=True
        )
        group = ProcessGroup(settings_env(settings), log_dir=data / "logs")
        deployment = Deployment(settings, group)
        stopping.callback(deployment.client.close)
        stopping.callback(group.stop_all)
        group.start("api", "api")
        if not wait_http_ok(f"{settings.api_url}/healthz", 60, alive=lambda: "api" not in group.exited()):
            raise RuntimeError(f"the API did not start; see {data / 'logs'}")
        for i in range(workers):
            group.start(f"worker-{i + 1}", "worker")
        asyncio.run(wait_group_stable(settings, workers))
        warm_up(deployment)
        yield deployment


@contextmanager
def uncached_env() -> Iterator[None]:
    """perfpulse's query caches off (L1 in the API, L2 in Redis) and its OTLP port off (unused here)
    for the deployment's settings, which read the environment."""
    overrides = {"PERFPULSE_CACHE_L1_MB": "0", "PERFPULSE_CACHE_L2": "false", "PERFPULSE_OTLP_PORT": "0"}
    before = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


async def wait_group_stable(settings: Settings, members: int, timeout_s: float = 120) -> None:
    """Wait until the workers' consumer group is Stable with ``members`` members, so that no
    rebalance pauses the stream in the middle of a measurement."""
    group = f"{settings.consumer_group}-stream"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    last_error = ""
    try:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                responses = await admin.describe_consumer_groups([group])
            except KafkaError as exc:
                # A broker just started may not have elected the group's coordinator yet
                # (GroupCoordinatorNotAvailableError): ask again, as the workers' consumers do.
                if not exc.retriable:
                    raise
                last_error = f" (last: {exc})"
                responses = []
            for response in responses:
                for _error, _group, state, _protocol_type, _protocol, group_members, *_ in response.groups:
                    if state == "Stable" and len(group_members) == members:
                        return
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise RuntimeError(f"consumer group {group} not stable with {members} members in {timeout_s} s{last_error}")


def warm_up(deployment: Deployment) -> None:
    """Wait until the whole path is live (the worker joined its group): 100 points in, 100 out."""
    now = int(time.time() * 1000)
    body = {"service": "bench", "points": [{"name": "bench.warmup", "value": 1.0, "ts": now} for _ in range(100)]}
    deadline = time.time() + 60
    while (
        status := deployment.client.post(f"{deployment.settings.api_url}/api/v1/ingest/metrics", json=body).status_code
    ) == 503:
        if time.time() > deadline:
            raise RuntimeError("ingest still answers 503 (Kafka unavailable) after 60 s")
        time.sleep(1)  # Kafka may still be electing leaders of the fresh topics: retry, as a client would
    if status != 202:
        raise RuntimeError(f"warm-up batch refused with {status}")
    deployment.wait_count("bench.warmup", now - 60_000, now + 60_000, 100, timeout_s=90)


def run_sender(deployment: Deployment, *args: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.sender", *args, "--bootstrap", deployment.settings.kafka_bootstrap,
            "--prefix", deployment.settings.topic_prefix]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"sender failed: {result.stderr[-3000:]}")
    out: dict[str, Any] = orjson.loads(result.stdout.strip().splitlines()[-1])
    if out["dropped"]:
        raise RuntimeError(f"the sender dropped {out['dropped']} points")
    return out


def throughput(figures: dict[str, float]) -> None:
    n = int(os.environ.get("BENCH_POINTS", "5000000"))
    for bulk in (False, True):
        how = "observe_many" if bulk else "observe"
        with deployed(f"throughput-{how}", "1s", "1s") as d, sample_rss(d):
            console.print(f"throughput: {n:,} points through the SDK ({how}) from a separate process ...")
            begin = int(time.time() * 1000)
            sent = run_sender(d, "burst", "--points", str(n), *(["--bulk"] if bulk else []))
            done = d.wait_count(METRIC, begin - 60_000, begin + 600_000, n, timeout_s=600)
            elapsed = done - sent["first_send"]
            figures["ingest_points_per_s" if not bulk else "ingest_bulk_points_per_s"] = n / elapsed
            figures[f"sdk_{how}_calls_points_per_s"] = n / (sent["recorded"] - sent["first_send"])
            figures[f"sdk_{how}_acked_points_per_s"] = n / (sent["acked"] - sent["first_send"])
            figures["worker_rss_mb"] = max(figures.get("worker_rss_mb", 0.0), max(d.rss_mb, default=0.0))


def freshness(figures: dict[str, float], rate: float = 50_000, seconds: float = 30) -> None:
    with deployed("freshness", "1s", "1s") as d, sample_rss(d):
        console.print(f"freshness: {rate:,.0f} points/s for {seconds:.0f} s, 1 s window, 1 s grace ...")
        seen: dict[int, list[tuple[float, int]]] = {}
        stop = threading.Event()
        start_ms = int(time.time() * 1000)

        def poll() -> None:
            while not stop.is_set():
                asked = time.time()
                body = d.get("/api/v1/query", metric=METRIC, start=start_ms - 2_000, end=int(asked * 1000) + 2_000,
                             step="1s", stats="count", group_by="")  # fmt: skip
                answered = time.time()
                for series in body["series"]:
                    for point in series["points"]:
                        seen.setdefault(point["t"], []).append((answered, point["count"]))
                time.sleep(max(0.0, 0.05 - (answered - asked)))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        sent = run_sender(d, "steady", "--rate", str(rate), "--seconds", str(seconds))
        time.sleep(5)
        stop.set()
        poller.join()
        samples = []
        for window_text, expected in sent["per_window"].items():
            window = int(window_text)
            complete = [at for at, count in seen.get(window, []) if count >= expected]
            if not complete:
                raise RuntimeError(f"window {window} never reached its {expected} points")
            queryable_ms = min(complete) * 1000
            # Points of a window were emitted evenly across it (paced every 10 ms).
            emitted = np.linspace(window, window + 1_000, max(2, expected // 100), endpoint=False)
            samples.append(queryable_ms - emitted)
        fresh = np.concatenate(samples)
        figures["freshness_p50_ms"] = float(np.percentile(fresh, 50))
        figures["freshness_p99_ms"] = float(np.percentile(fresh, 99))
        figures["freshness_points_per_s"] = sent["sent"] / seconds
        figures["worker_rss_mb"] = max(figures.get("worker_rss_mb", 0.0), max(d.rss_mb, default=0.0))


def query_latency(figures: dict[str, float], n: int = 10_000_000) -> None:
    with uncached_env(), deployed("query", "10s", "2s") as d:
        console.print(f"query: loading {n:,} points spread over the last hour (10 s window) ...")
        loaded = time.time()
        span = run_sender(d, "backfill", "--points", str(n), "--hours", "1")
        start, end = span["start_ms"] - span["start_ms"] % 10_000, span["end_ms"] + 1  # whole windows
        d.wait_count(METRIC, start, end, n, timeout_s=900)
        figures["load_points_per_s"] = n / (time.time() - loaded)
        time.sleep(20)  # let ClickHouse merge the parts the load left behind (10M raw points)
        recent = end - 15 * 60_000
        queries: dict[str, Callable[[], Any]] = {
            "hour by service": lambda: d.get("/api/v1/query", metric=METRIC, start=start, end=end,
                                             stats="p50,p95,p99,count", group_by="service"),
            "hour per minute": lambda: d.get("/api/v1/query", metric=METRIC, start=start, end=end, step="1m",
                                             stats="p50,p95,p99,count", group_by="service"),
            "15 min per 10 s by route": lambda: d.get("/api/v1/query", metric=METRIC, start=recent, end=end,
                                                      step="10s", stats="p99,rate", group_by="service,route"),
            "hour, one route": lambda: d.get("/api/v1/query", metric=METRIC, start=start, end=end,
                                             stats="p50,p99", group_by="", **{"label.route": "/api/quotes"}),
        }  # fmt: skip
        timings: dict[str, list[float]] = {name: [] for name in queries}
        for call in queries.values():
            call()  # first call warms caches
        for _ in range(60):
            for name, call in queries.items():
                began = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - began) * 1000)
        every = np.concatenate([np.array(t) for t in timings.values()])
        figures["query_p50_ms"] = float(np.percentile(every, 50))
        figures["query_p99_ms"] = float(np.percentile(every, 99))
        for name, values in timings.items():
            figures[f"query ({name}) p99_ms"] = float(np.percentile(values, 99))


def cached_reads(figures: dict[str, float], n: int = 1_000_000, clients: int = 64, seconds: float = 20) -> None:
    with deployed("cached", "10s", "2s") as d:
        console.print(
            f"cached: loading {n:,} points over the last hour, then {clients} clients for {seconds:.0f} s ..."
        )
        span = run_sender(d, "backfill", "--points", str(n), "--hours", "1")
        d.wait_count(METRIC, span["start_ms"] - span["start_ms"] % 10_000, span["end_ms"] + 1, n, timeout_s=600)
        argv = [sys.executable, "-m", "bench.cached", "--url", d.settings.api_url, "--clients", str(clients),
                "--seconds", str(seconds)]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
        if result.returncode != 0:
            raise RuntimeError(f"bench.cached failed: {result.stderr[-3000:]}")
        out = orjson.loads(result.stdout.strip().splitlines()[-1])
        if out["errors"]:
            raise RuntimeError(f"{out['errors']} of {out['answered']} cached reads were not answered 200")
        each = ", ".join(f"{k.removesuffix('_p99_ms')} {v:.0f}" for k, v in out.items() if k.endswith("_p99_ms"))
        console.print(f"cached: p99 ms per request of the mix: {each}")
        figures["cached_qps"], figures["cached_p99_ms"] = out["qps"], out["p99_ms"]
        figures["cached_p50_ms"] = out["p50_ms"]


def stored_server_spans(d: Deployment, start_ms: int, services: set[str]) -> int:
    """SERVER spans stored (one per trace here), summed over ``services``: the spans table's count."""
    found = d.get("/api/v1/services", start=start_ms, end=int(time.time() * 1000) + 60_000)["services"]
    return sum((s["span_red"] or {}).get("requests", 0) for s in found if s["service"] in services)


def spans_scenario(figures: dict[str, float], otlp_spans: int = 200_000, stored: int = 10_000_000) -> None:
    with deployed("spans", "10s", "2s") as d:
        settings = d.settings
        console.print(f"spans: {otlp_spans:,} spans as OTLP/HTTP protobuf (2 clients) until queryable by id ...")
        begin = int(time.time() * 1000)
        env = {**os.environ, "BENCH_OTLP_URL": f"http://127.0.0.1:{settings.otlp_port}"}
        argv = [sys.executable, "-m", "bench.otlp_spans", "--send", str(otlp_spans // 2)]
        clients = [subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [orjson.loads(c.communicate()[0].strip().splitlines()[-1]) for c in clients]
        first = min(o["first_send"] for o in outputs)
        traces = sum(o["traces"] for o in outputs)
        deadline = time.time() + 600
        while stored_server_spans(d, begin - 60_000, {"gateway", "orchestrator", "frontend"}) < traces:
            if time.time() > deadline:
                raise RuntimeError("OTLP spans not all stored after 600 s")
            time.sleep(0.2)
        for trace_id in outputs[-1]["last_traces"]:
            assert d.client.get(f"{settings.api_url}/api/v1/traces/{trace_id}").status_code == 200
        figures["spans_per_s"] = sum(o["spans"] for o in outputs) / (time.time() - first)

        console.print(f"spans: loading {stored:,} spans (traces of 20) into the store ...")
        loaded = time.time()
        sent = run_sender(d, "spans", "--points", str(stored), "--hours", "1")
        services = {f"svc-{i}" for i in range(7)}
        deadline = time.time() + 1800
        while stored_server_spans(d, begin - 2 * 3_600_000, services) < sent["traces"]:
            if time.time() > deadline:
                raise RuntimeError("stored spans incomplete after 1800 s")
            time.sleep(1)
        figures["span_load_per_s"] = stored / (time.time() - loaded)
        time.sleep(20)  # let ClickHouse merge what the load left
        timings = []
        # Each trace twice, the second pass after every other: with more traces than the API keeps
        # answers of (oldest out first), every lookup reads the store.
        if len(sent["sample"]) <= TRACE_ENTRIES:
            raise RuntimeError(f"{len(sent['sample'])} sample traces: the API keeps {TRACE_ENTRIES}, lookups would hit")
        for trace_id in sent["sample"] * 2:
            began = time.perf_counter()
            response = d.client.get(f"{settings.api_url}/api/v1/traces/{trace_id}")
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200 and response.json()["span_count"] == 20
        figures["trace_query_p50_ms"] = float(np.percentile(timings, 50))
        figures["trace_query_p99_ms"] = float(np.percentile(timings, 99))


ALERT_RULE = """  - name: slow_{i}
    condition: http.server.duration.p95{{service="svc-{i}"}} > 200
    severity: warning
    notification: [hook]
"""


def alert_latency(figures: dict[str, float], services: int = 1_000, breaching: int = 100) -> None:
    """From the end of the breaching window to the first webhook telling its alert (firing, or
    resolved when the firing reached the notifier with its resolution right behind it), for
    ``breaching`` of ``services`` services, each with its own rule (1,000 rules), 1 s window, 1 s
    grace, no group wait."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: dict[str, float] = {}  # service -> when its alert was first told, firing or resolved
    first_resolved: set[str] = set()  # services whose alert was first told resolved (it fired late)

    class Hook(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as receivers in production serve webhooks

        def do_POST(self) -> None:
            body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
            arrived = time.time()
            for alert in body.get("alerts", []):
                service = alert["labels"]["service"]
                if service not in received and alert.get("status") == "resolved":
                    first_resolved.add(service)
                received.setdefault(service, arrived)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    class Receiver(ThreadingHTTPServer):
        # socketserver's listen backlog is 5: a burst of 100 webhooks on new connections overflowed
        # it, and the dropped connects were retried by the kernel 1 s later (web servers listen with
        # a backlog of 511 or more).
        request_queue_size = 1_024

    server = Receiver(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rules = HOME / "alert-rules.yaml"
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    header = f"channels:\n  hook: {{type: webhook, url: '{hook}', group_wait: 0s}}\nalerts:\n"
    rules.write_text(header + "".join(ALERT_RULE.format(i=i) for i in range(services)))
    try:
        # Two workers, one per core: 4,000 small records/s (1,000 services batching every 250 ms)
        # keep one Python worker busy enough that ticks queue behind the data.
        with deployed("alerts", "1s", "1s", rules=rules, workers=2) as d:
            console.print(f"alerts: {services:,} services, {services:,} rules; {breaching} breach for one window ...")
            sent = run_sender(
                d, "services", "--services", str(services), "--breaching", str(breaching), "--seconds", "30"
            )
            deadline = time.time() + 30
            while len(received) < breaching and time.time() < deadline:
                time.sleep(0.2)
            if len(received) < breaching:
                raise RuntimeError(f"{len(received)} of {breaching} alerts arrived")
            window_end = (sent["breach_ms"] + 1_000) / 1000
            latencies = np.array([(at - window_end) * 1000 for at in received.values()])
            figures["alert_latency_p50_ms"] = float(np.percentile(latencies, 50))
            figures["alert_latency_p99_ms"] = float(np.percentile(latencies, 99))
            emitted_at = asyncio.run(firing_emitted_ms(d.settings))
            emitted = np.array(list(emitted_at.values())) - window_end * 1000
            figures["alert_emitted_p50_ms"] = float(np.percentile(emitted, 50))
            figures["alert_emitted_p99_ms"] = float(np.percentile(emitted, 99))
            notified = np.array([received[s] * 1000 - at for s, at in emitted_at.items() if s in received])
            figures["alert_notified_p50_ms"] = float(np.percentile(notified, 50))
            figures["alert_notified_p99_ms"] = float(np.percentile(notified, 99))
            figures["alert_told_resolved"] = float(len(first_resolved))
    finally:
        server.shutdown()


async def firing_emitted_ms(settings: Settings) -> dict[str, int]:
    """When each service's firing transition reached the ``alerts`` topic (its record's timestamp,
    epoch ms): the stream's share of the alert latency; the rest is the notifier's."""
    consumer = AIOKafkaConsumer(
        settings.topics.alerts, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        found: dict[str, int] = {}
        while batches := await consumer.getmany(timeout_ms=2_000):
            for records in batches.values():
                for record in records:
                    transition = decode_transition(record.value)
                    if transition.state is State.FIRING:
                        found.setdefault(transition.labels["service"], record.timestamp)
        return found
    finally:
        await consumer.stop()


def live_feed(figures: dict[str, float], connections: int = 1_000, seconds: float = 30) -> None:
    """Live-feed latency (window stored to result received) and results/s at ``connections``."""
    with deployed("live", "1s", "1s") as d:
        console.print(f"live: {connections:,} WebSocket clients, 10 subscriptions each, {seconds:.0f} s ...")
        figures.update(live_measure(d.settings, connections=connections, seconds=seconds))


def dashboard_first_render(figures: dict[str, float], runs: int = 10, traffic_s: float = 60) -> None:
    """The dashboard's first chart with data, cold (dashboard/e2e/firstrender.mjs: a new headless
    chromium per load, settled before it navigates), against a deployment that has had demo traffic
    for ``traffic_s``."""
    with deployed("dashboard", "10s", "2s") as d:
        d.group.start("demo", "demo")
        console.print(f"dashboard: demo traffic for {traffic_s:.0f} s, then {runs} cold loads of the overview ...")
        time.sleep(traffic_s)
        env = {**os.environ, "DASHBOARD_URL": d.settings.api_url, "RUNS": str(runs)}
        argv = ["node", "e2e/firstrender.mjs"]
        result = subprocess.run(argv, cwd=REPO / "dashboard", env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"dashboard/e2e/firstrender.mjs failed: {result.stderr[-3000:]}")
        out = orjson.loads(result.stdout.strip().splitlines()[-1])
        runs_ms = out["runs_ms"]
        console.print(f"dashboard: first chart painted after {', '.join(str(ms) for ms in runs_ms)} ms")
        medians = {
            stage: np.median([s[stage] for s in out["stages"] if s[stage] is not None]) for stage in out["stages"][0]
        }
        shown = ", ".join(f"{k} {v:.0f}" for k, v in medians.items())
        console.print(f"dashboard: medians, ms from navigation: {shown}")
        figures["first_render_p50_ms"] = float(np.percentile(runs_ms, 50))
        figures["first_render_max_ms"] = float(max(runs_ms))


def main() -> None:
    configure_logging("error", "console")
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    kafka = LocalKafka(HOME / "kafka", port=KAFKA_PORT)
    console.print(f"bench: Kafka on {kafka.bootstrap}: {kafka.start()}; {os.cpu_count()} cores")
    console.print("bench: warming Kafka (bench/kafkawarm.py) ...")
    console.print(f"bench: {warm_kafka(kafka.bootstrap)}")
    figures: dict[str, float] = {}
    scenarios = {
        "throughput": throughput,
        "freshness": freshness,
        "query": query_latency,
        "cached": cached_reads,
        "spans": spans_scenario,
        "alerts": alert_latency,
        "accuracy": accuracy,
        "live": live_feed,
        "dashboard": dashboard_first_render,
    }
    chosen = sys.argv[1:] or list(scenarios)
    try:
        for name in chosen:
            scenarios[name](figures)
    finally:
        kafka.stop()
    table = Table("figure", "value", "target")
    targets = {"ingest_points_per_s": ">= 200000", "freshness_p99_ms": "<= 3000 (window + grace + 1 s)",
               "query_p99_ms": "<= 50", "worker_rss_mb": "<= 500", "spans_per_s": ">= 50000",
               "trace_query_p99_ms": "<= 50", "alert_latency_p99_ms": "<= 2000 (grace + 1 s)",
               "ws_p99_ms": "<= 100", "ws_msgs_per_s": ">= 10000", "ws_connect_p99_ms": "<= 100",
               "cached_qps": ">= 3000", "cached_p99_ms": "<= 50", "first_render_p50_ms": "< 1000",
               "first_render_max_ms": "< 1000"}  # fmt: skip
    for key, value in figures.items():
        table.add_row(key, f"{value:,.1f}", targets.get(key, ""))
    Console().print(table)
    keys = (
        "ingest_points_per_s",
        "freshness_p50_ms",
        "freshness_p99_ms",
        "query_p50_ms",
        "query_p99_ms",
        "cached_qps",
        "cached_p99_ms",
        "worker_rss_mb",
        "spans_per_s",
        "trace_query_p99_ms",
        "alert_latency_p99_ms",
        "alert_emitted_p99_ms",
        "alert_notified_p99_ms",
        "ws_p99_ms",
        "ws_msgs_per_s",
        "first_render_p50_ms",
        "first_render_max_ms",
    )
    print("RESULT " + " ".join(f"{k}={figures[k]:.0f}" for k in keys if k in figures))


if __name__ == "__main__":
    main()
