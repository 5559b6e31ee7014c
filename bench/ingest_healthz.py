"""``python -m bench.ingest_healthz``: how long ``/healthz`` waits while the API works on a
worst-case 16 MiB ingest body, one body of each kind.

The API app (:func:`perfpulse.app.create_app`, no sink, no notifier) runs under uvicorn in a process
of its own, on the Kafka of ``PERFPULSE_BENCH_KAFKA`` (default ``127.0.0.1:29092``) and the Redis of
``PERFPULSE_BENCH_REDIS`` (default ``redis://127.0.0.1:26379/0``), with topics of a fresh prefix. For
each body (16 MiB: 50,000 metric points of the JSON envelope, 10,000 log records dense with what the
redactor looks for, 22,000 OTLP spans in protobuf) a process of its own posts it while this one asks
``/healthz`` one request after another, 20 ms apart, until the ingest answer came. Prints per kind
the ingest status and time, the API process's CPU time meanwhile (its worker processes not counted),
the number of ``/healthz`` answers during it, the slowest and how many took over 100 ms; first the
same for 10 s without ingest (``idle``: what a loaded machine alone costs, and the API's CPU per
``/healthz`` answer, which each kind's CPU time includes). The last line is
``RESULT idle_max_ms=... <kind>_max_ms=... ... idle_api_cpu_s=... <kind>_api_cpu_s=... ...``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import orjson
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan

__all__ = ["logs_body", "metrics_body", "otlp_spans_body"]

MIB = 1024 * 1024
LIMIT = 16 * MIB  # the body limit (schemas.limits.Limits.max_body_bytes)
JSON = "application/json"
PROTOBUF = "application/x-protobuf"


def metrics_body(now_ms: int) -> bytes:
    """Just under 16 MiB of JSON: 50,000 metric points (the per-request bound) with 8 labels each."""
    labels = {f"label{k}": f"value-{k}-" + "v" * 10 for k in range(8)}
    points = [
        {"name": "http.server.duration", "value": float(i % 977), "ts": now_ms, "labels": {**labels, "i": str(i)}}
        for i in range(50_000)
    ]
    body = orjson.dumps({"service": "hostile", "points": points})
    assert 12 * MIB < len(body) <= LIMIT, len(body)
    return body


def logs_body(now_ms: int) -> bytes:
    """Just under 16 MiB of log records (10,000, the per-request bound) whose messages are dense with
    what the redactor looks for: every record costs parsing, checks and redaction."""
    secretish = "password=hunter2 token=abc.def Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig 4111 1111 1111 1111 "
    message = (secretish * 16)[:1_500]
    records = [{"ts": now_ms, "level": "info", "message": message, "attributes": {"i": i}} for i in range(10_000)]
    body = orjson.dumps({"service": "hostile", "logs": records})
    assert 14 * MIB < len(body) <= LIMIT, len(body)
    return body


def otlp_spans_body(now_ns: int) -> bytes:
    """Just under 16 MiB of OTLP protobuf: 22,000 spans of 12 attributes each, one service."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "hostile"
    spans = resource_spans.scope_spans.add().spans
    trace_id = uuid.uuid4().bytes
    for i in range(22_000):
        span = spans.add(trace_id=trace_id, span_id=i.to_bytes(8, "big"), name=f"GET /api/items/{i % 50}")
        span.kind = OtlpSpan.SPAN_KIND_SERVER
        span.start_time_unix_nano = now_ns - 1_000_000
        span.end_time_unix_nano = now_ns
        for k in range(12):
            span.attributes.add(key=f"attribute.{k}").value.string_value = f"value {k} of span {i} " + "a" * 14
    body = request.SerializeToString()
    assert 12 * MIB < len(body) <= LIMIT, len(body)
    return body


def app() -> FastAPI:
    """The server process's app (uvicorn ``--factory``): settings from ``PERFPULSE_*``."""
    from perfpulse.app import create_app
    from perfpulse.settings import Settings

    return create_app(Settings(), with_sink=False, with_notifier=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(data_dir: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PERFPULSE_KAFKA_BOOTSTRAP": os.environ.get("PERFPULSE_BENCH_KAFKA", "127.0.0.1:29092"),
        "PERFPULSE_REDIS_URL": os.environ.get("PERFPULSE_BENCH_REDIS", "redis://127.0.0.1:26379/0"),
        "PERFPULSE_DATA_DIR": data_dir,
        "PERFPULSE_TOPIC_PREFIX": f"bench-healthz-{uuid.uuid4().hex[:8]}.",
        "PERFPULSE_OTLP_PORT": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.ingest_healthz:app", "--port", str(port)]
    return subprocess.Popen([*command, "--log-level", "warning"], env=env)


def _ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not start")


_POST = """
import sys, time, httpx
url, content_type, path = sys.argv[1:]
body = open(path, "rb").read()
started = time.monotonic()
response = httpx.post(url, content=body, headers={"content-type": content_type}, timeout=600)
print(response.status_code, time.monotonic() - started)
"""


def measure(url: str, path: str, body: bytes, content_type: str) -> dict[str, float]:
    """Post ``body`` to ``path`` from a process of its own (its sending must not hold this process's
    GIL) and ask ``/healthz`` until the answer: status, seconds, answers, slowest ms."""
    outcome: dict[str, float] = {}
    with tempfile.NamedTemporaryFile() as file:
        file.write(body)
        file.flush()

        def post() -> None:
            command = [sys.executable, "-c", _POST, f"{url}{path}", content_type, file.name]
            status, seconds = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
            outcome.update(status=int(status), ingest_s=float(seconds))

        return {**_health_during(url, post), **outcome}


def idle(url: str, seconds: float) -> dict[str, float]:
    """``/healthz`` asked for ``seconds`` with no ingest: what the machine alone costs it."""
    return _health_during(url, lambda: time.sleep(seconds))


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far, its worker processes not included."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _health_during(url: str, action: Callable[[], None]) -> dict[str, float]:
    """Ask ``/healthz`` one request after another, 20 ms apart, while ``action`` runs on a thread."""
    running = threading.Thread(target=action)
    waits: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as health:
        health.get("/healthz")  # a kept-alive connection before the action starts
        running.start()
        while running.is_alive():
            asked = time.monotonic()
            health.get("/healthz").raise_for_status()
            if running.is_alive():
                waits.append(time.monotonic() - asked)
            time.sleep(0.02)
    running.join()
    over = sum(wait > 0.1 for wait in waits)
    return {"answers": len(waits), "max_ms": max(waits, default=0.0) * 1000, "over_100ms": over}


def main() -> None:
    now_ns = time.time_ns()
    kinds: dict[str, tuple[str, Callable[[], bytes], str]] = {
        "metrics": ("/api/v1/ingest/metrics", lambda: metrics_body(now_ns // 1_000_000), JSON),
        "logs": ("/api/v1/ingest/logs", lambda: logs_body(now_ns // 1_000_000), JSON),
        "otlp_spans": ("/v1/traces", lambda: otlp_spans_body(now_ns), PROTOBUF),
    }
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        port = _free_port()
        server = _serve(data_dir, port)
        try:
            url = f"http://127.0.0.1:{port}"
            _ready(url, server)
            cpu_before = _cpu_s(server.pid)
            results["idle"] = r = idle(url, 10.0)
            r["api_cpu_s"] = _cpu_s(server.pid) - cpu_before
            print(
                f"idle: /healthz answered {r['answers']:.0f} times in 10 s, slowest {r['max_ms']:.1f} ms, "
                f"{r['over_100ms']:.0f} over 100 ms (API process CPU {r['api_cpu_s']:.2f} s, "
                f"{r['api_cpu_s'] / max(r['answers'], 1) * 1000:.1f} ms per answer)",
                flush=True,
            )
            for kind, (path, make, content_type) in kinds.items():
                body = make()
                cpu_before = _cpu_s(server.pid)
                results[kind] = r = measure(url, path, body, content_type)
                r["api_cpu_s"] = _cpu_s(server.pid) - cpu_before
                print(
                    f"{kind}: {len(body) / MIB:.1f} MiB -> {r['status']:.0f} in {r['ingest_s']:.2f} s "
                    f"(API process CPU {r['api_cpu_s']:.2f} s); /healthz answered {r['answers']:.0f} times, "
                    f"slowest {r['max_ms']:.1f} ms, {r['over_100ms']:.0f} over 100 ms",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(30)
    figures = [f"{kind}_max_ms={r['max_ms']:.1f}" for kind, r in results.items()]
    figures += [f"{kind}_api_cpu_s={r['api_cpu_s']:.2f}" for kind, r in results.items() if "api_cpu_s" in r]
    print("RESULT " + " ".join(figures))


if __name__ == "__main__":
    main()
