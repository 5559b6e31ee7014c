"""``python -m bench.otlp_spans``: OTLP/HTTP protobuf span ingest, spans per second into Kafka.

One client posts ``ExportTraceServiceRequest``s of 512 spans (8 attributes each, an event on one in
ten, realistic names) one after the other, keep-alive, to ``POST /v1/traces`` of the OTLP app
(:func:`ingest.receivers.otlp.create_otlp_app`) served by uvicorn in a process of its own; each answer comes
only once Kafka acknowledged (acks=all). Requests are encoded before the clock starts. At the end
every span is read back from the ``spans`` topic and counted.

Kafka: ``PERFPULSE_BENCH_KAFKA=host:port`` to use a running broker, else a local one is started
under ``.perfpulse-bench/otlp-kafka`` (port 29192) and stopped at the end.
Last line: ``RESULT otlp_spans_per_s=... requests=... p50_ms=... p99_ms=...``.

``python -m bench.otlp_spans --stages``: the per-span CPU time of each stage on ~100k spans of the
same requests, no Kafka: the receiver (protobuf parse, conversion, checks, redaction, batching,
record encoding as the producer does it), the stream worker (decode, span metrics), the sink (decode,
redaction, insert columns) and the insert of those columns into an embedded store (chDB). Process
CPU time, best of ``--runs``, so that other processes on the machine count less. Last line:
``RESULT receiver_us=... worker_us=... sink_us=... insert_us=... spans=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan

from infra import LocalKafka
from ingest.producer import RecordProducer
from ingest.receivers.http import IngestContext
from ingest.receivers.otlp import create_otlp_app
from ingest.receivers.otlp.traces import convert_traces
from perfpulse.topics import ensure_topics
from schemas import Limits, Redactor, Span, Topics, decode_spans, encode_spans
from schemas.span_envelope import pack_spans
from schemas.spans import decode_span_arrays
from storage import apply_migrations, open_store
from storage.rows import SpanColumns
from stream.spanmetrics import span_metrics

REPO = Path(__file__).resolve().parents[1]
SPANS_PER_REQUEST = 512
ROUTES = ("/api/portfolio", "/api/quotes", "/api/orders", "/api/ai/ask")


def app() -> FastAPI:
    """The server process's app (uvicorn ``--factory``): Kafka and topics from the environment."""
    topics = Topics(os.environ["BENCH_TOPIC_PREFIX"])
    producer = RecordProducer(os.environ["BENCH_KAFKA"], topics, client_id="bench-otlp")
    return create_otlp_app(IngestContext(producer, Limits(), Redactor()), stop_producer=True)


def request_body(rng: random.Random) -> bytes:
    """One request: 64 traces of 8 spans (a server span and its children), 3 services."""
    request = ExportTraceServiceRequest()
    now = time.time_ns()
    by_service = {}
    for service in ("gateway", "orchestrator", "frontend"):
        resource_spans = request.resource_spans.add()
        attribute = resource_spans.resource.attributes.add(key="service.name")
        attribute.value.string_value = service
        by_service[service] = resource_spans.scope_spans.add().spans
    services = list(by_service)
    for t in range(SPANS_PER_REQUEST // 8):
        trace_id = rng.randbytes(16)
        root_id = rng.randbytes(8)
        for i in range(8):
            span = by_service[services[(t + i) % 3]].add()
            span.trace_id, span.span_id = trace_id, root_id if i == 0 else rng.randbytes(8)
            if i:
                span.parent_span_id = root_id
            route = ROUTES[(t + i) % len(ROUTES)]
            span.name = f"GET {route}" if i == 0 else f"step {i}"
            span.kind = OtlpSpan.SPAN_KIND_SERVER if i == 0 else OtlpSpan.SPAN_KIND_INTERNAL
            span.start_time_unix_nano = now - 50_000_000 + i * 1_000_000
            span.end_time_unix_nano = span.start_time_unix_nano + rng.randrange(100_000, 40_000_000)
            for key, value in (
                ("http.method", "GET"),
                ("http.route", route),
                ("http.status_code", "200"),
                ("net.peer.name", "10.0.0.7"),
                ("user.id", f"u{rng.randrange(10_000)}"),
                ("thread.name", "worker-3"),
                ("code.function", "handle"),
            ):
                span.attributes.add(key=key).value.string_value = value
            span.attributes.add(key="db.rows").value.int_value = rng.randrange(100)
            if (t + i) % 10 == 0:
                event = span.events.add(name="cache miss", time_unix_nano=span.start_time_unix_nano + 1_000)
                event.attributes.add(key="key").value.string_value = f"quote:{t}"
    return request.SerializeToString()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def count_spans(bootstrap: str, topic: str) -> int:
    """Spans in every record of ``topic``, from the beginning to the end offsets."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    total = 0
    try:
        while not consumer.assignment():
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                total += sum(len(decode_spans(m.value)) for m in messages)
        partitions = sorted(consumer.assignment())
        end = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                total += sum(len(decode_spans(m.value)) for m in messages)
        return total
    finally:
        await consumer.stop()


def send(url: str, spans: int) -> None:
    """Post ``spans`` spans (unique ids) to ``url``/v1/traces as fast as answers come; print one JSON
    line: when the first request left, spans and traces acknowledged, a few trace ids of the last."""
    rng = random.Random(uuid.uuid4().int)
    bodies = [request_body(rng) for _ in range(max(1, spans // SPANS_PER_REQUEST))]
    headers = {"Content-Type": "application/x-protobuf"}
    with httpx.Client(timeout=60) as client:
        first = time.time()
        for body in bodies:
            while (status := client.post(f"{url}/v1/traces", content=body, headers=headers).status_code) in (429, 503):
                time.sleep(0.5)
            if status != 200:
                raise RuntimeError(f"cannot ingest: {status}")
    last = ExportTraceServiceRequest.FromString(bodies[-1])
    ids = {span.trace_id.hex() for rs in last.resource_spans for ss in rs.scope_spans for span in ss.spans}
    spans_sent = len(bodies) * SPANS_PER_REQUEST
    out = {"first_send": first, "spans": spans_sent, "traces": spans_sent // 8, "last_traces": sorted(ids)[:5]}
    print(orjson.dumps(out).decode())


def receive(bodies: list[bytes], limits: Limits, redactor: Redactor) -> list[bytes]:
    """The receiver's work on ``bodies``: the records the producer would send (a record per service
    and batch, as :meth:`~ingest.producer.RecordProducer.send_spans` cuts them)."""
    now_ms = time.time_ns() // 1_000_000
    records: list[bytes] = []
    for body in bodies:
        converted = convert_traces(ExportTraceServiceRequest.FromString(body), now_ms, limits, redactor)
        for batch in pack_spans(converted.spans, limits):
            by_service: dict[str, list[Span]] = {}
            for span in batch:
                by_service.setdefault(span.service, []).append(span)
            records.extend(encode_spans(part) for part in by_service.values())
    return records


def cpu_us_per_span(work: Callable[[], object], spans: int, runs: int) -> float:
    """The least process CPU time of ``runs`` calls of ``work``, in µs per span."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / spans * 1e6


def stages(runs: int) -> None:
    limits, redactor = Limits(), Redactor()
    rng = random.Random(7)
    bodies = [request_body(rng) for _ in range(196)]  # 100,352 spans
    spans = len(bodies) * SPANS_PER_REQUEST
    records = receive(bodies, limits, redactor)
    receiver = cpu_us_per_span(lambda: receive(bodies, limits, redactor), spans, runs)
    worker = cpu_us_per_span(lambda: [span_metrics(decode_span_arrays(r)) for r in records], spans, runs)

    def sink() -> SpanColumns:
        columns = SpanColumns(redactor)
        for offset, record in enumerate(records):
            columns.add(0, offset, decode_span_arrays(record))
        return columns

    sinking = cpu_us_per_span(sink, spans, runs)
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"chdb://{directory}/ch", pool_size=1)
        apply_migrations(store)
        table = sink().take()
        insert = cpu_us_per_span(lambda: store.insert(*table), spans, runs)
        store.close()
    print(
        f"RESULT receiver_us={receiver:.2f} worker_us={worker:.2f} sink_us={sinking:.2f} "
        f"insert_us={insert:.2f} spans={spans}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the client posts")
    parser.add_argument("--send", type=int, help="only send this many spans to $BENCH_OTLP_URL (make bench)")
    parser.add_argument("--stages", action="store_true", help="per-span CPU time of each stage, no Kafka")
    parser.add_argument("--runs", type=int, default=3, help="--stages: runs per stage, the best reported")
    args = parser.parse_args()
    if args.stages:
        stages(args.runs)
        return
    if args.send:
        send(os.environ["BENCH_OTLP_URL"], args.send)
        return
    bootstrap = os.environ.get("PERFPULSE_BENCH_KAFKA")
    kafka = None
    if bootstrap is None:
        kafka = LocalKafka(REPO / ".perfpulse-bench" / "otlp-kafka", port=29192)
        print(f"Kafka: {kafka.start()}", file=sys.stderr)
        bootstrap = kafka.bootstrap
    try:
        run(bootstrap, args.seconds)
    finally:
        if kafka is not None:
            kafka.stop()


def run(bootstrap: str, seconds: float) -> None:
    topics = Topics(f"b{uuid.uuid4().hex[:10]}.")
    asyncio.run(ensure_topics(bootstrap, topics, partitions=4))
    port = free_port()
    env = {**os.environ, "BENCH_KAFKA": bootstrap, "BENCH_TOPIC_PREFIX": topics.prefix}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.otlp_spans:app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/traces"
        rng = random.Random(7)
        bodies = [request_body(rng) for _ in range(64)]
        with httpx.Client(timeout=60) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get(f"http://127.0.0.1:{port}/docs")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            headers = {"Content-Type": "application/x-protobuf"}
            for body in bodies[:4]:  # warm up: producer connected, code paths hot (not counted)
                assert client.post(url, content=body, headers=headers).status_code == 200
            latencies = []
            started = time.perf_counter()
            n = 0
            while time.perf_counter() - started < seconds:
                sent = time.perf_counter()
                response = client.post(url, content=bodies[n % len(bodies)], headers=headers)
                latencies.append(time.perf_counter() - sent)
                if response.status_code != 200 or response.content:
                    raise RuntimeError(f"cannot ingest: {response.status_code} {response.content[:200]!r}")
                n += 1
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
    stored = asyncio.run(count_spans(bootstrap, topics.spans))
    expected = (n + 4) * SPANS_PER_REQUEST
    if stored != expected:
        raise RuntimeError(f"Kafka holds {stored} spans, {expected} were acknowledged")
    ms = np.asarray(latencies) * 1000
    print(
        f"RESULT otlp_spans_per_s={n * SPANS_PER_REQUEST / elapsed:.0f} requests={n} "
        f"p50_ms={np.percentile(ms, 50):.1f} p99_ms={np.percentile(ms, 99):.1f} stored={stored}"
    )


if __name__ == "__main__":
    main()
