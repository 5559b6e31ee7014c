"""Live feed: from a window stored (the sink's stored-windows message, ``stored_at``) to its result
received by WebSocket clients, at many connections, and the results received per second.

Each of ``connections`` clients (asyncio, permessage-deflate as a browser offers it, spread over
:data:`RECEIVER_PROCESSES` processes) subscribes to the same ``subscriptions`` metric queries; a
sender (a process of its own) posts points of every metric every 100 ms for ``seconds``. Each stored
window then gives ``connections x subscriptions`` results: the server computes them with one query
(the subscriptions differ by metric only) and fans them out, one frame per client."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import httpx
import numpy as np
import orjson
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from perfpulse.settings import Settings

__all__ = ["measure"]

SEND_EVERY_S = 0.1
POINTS_PER_SEND = 50  # per metric
# The clients' own event loops. In one, Python's WebSocket client spent ~90 us per frame (inflate,
# parse, JSON), so the 1,000 frames of a window reached it over ~90 ms whenever the server sent them:
# the figure measured the bench's receiver. Browsers each have their own.
RECEIVER_PROCESSES = 4
HANDSHAKES_AT_ONCE = 100  # over all receivers: a browser fleet does not arrive at once


def _metric(i: int) -> str:
    return f"bench.live.{i}"


async def _send(api_url: str, metrics: int, seconds: float) -> int:
    sent = 0
    async with httpx.AsyncClient(timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = int(time.time() * 1000)
            points = [{"name": _metric(m), "value": float(1 + (now + j) % 97), "ts": now}
                      for m in range(metrics) for j in range(POINTS_PER_SEND)]  # fmt: skip
            response = await client.post(
                f"{api_url}/api/v1/ingest/metrics", json={"service": "bench", "points": points}
            )
            if response.status_code == 202:
                sent += len(points)
            await asyncio.sleep(SEND_EVERY_S)
    return sent


def _send_apart(api_url: str, metrics: int, seconds: float) -> int:
    """:func:`_send` in a process of its own: the 1,000 receivers' event loop does not delay the
    points (with both in one loop, a metric had 13 of its ~30 windows stored, 50 points each, not 500)."""
    return asyncio.run(_send(api_url, metrics, seconds))


async def _open(url: str, subscriptions: int, connect_ms: list[float]) -> ClientConnection:
    began = time.perf_counter()
    # No protocol pings, as a browser sends none (the feed has its own heartbeats).
    ws = await connect(url, open_timeout=60, max_size=16 * 1024 * 1024, ping_interval=None)
    hello = orjson.loads(await ws.recv())
    connect_ms.append((time.perf_counter() - began) * 1000)
    assert hello["type"] == "hello", hello
    subs = [{"id": f"s{i}", "kind": "query", "metric": _metric(i), "stats": ["p50", "p99", "count"], "group_by": []}
            for i in range(subscriptions)]  # fmt: skip
    await ws.send(orjson.dumps({"type": "subscribe", "subscriptions": subs}).decode())
    return ws


async def _receive(ws: ClientConnection, since_ms: int, latencies: list[float], times: list[float]) -> None:
    """Until the connection closes: every event's latency (received - stored) and receive time."""
    async for raw in ws:
        body = orjson.loads(raw)
        if body["type"] == "heartbeat":
            await ws.send('{"type": "pong"}')
        if body["type"] != "batch":
            continue
        received = time.time() * 1000
        for event in body["events"]:
            if event["window"]["start"] >= since_ms:  # windows of the measurement only
                latencies.append(received - event["stored_at"])
                times.append(received)


def _server_figures(api_url: str) -> dict[str, float]:
    """What the API process says of its live feed (``/metrics``): where the time of a result goes
    (message heard to result computed, result computed to frame sent), queries, frames, closes."""
    samples: dict[str, float] = {}
    closed: dict[str, float] = {}  # by why
    for family in text_string_to_metric_families(httpx.get(f"{api_url}/metrics", timeout=30).text):
        for sample in family.samples:
            if sample.name.startswith("perfpulse_live_") and sample.labels.get("transport", "websocket") == "websocket":
                samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
            if sample.name == "perfpulse_live_closed_total":
                closed[f"ws_server_closed_{sample.labels['reason']}"] = sample.value

    def mean_ms(name: str) -> float:
        count = samples.get(f"{name}_count", 0.0)
        return 1000 * samples.get(f"{name}_sum", 0.0) / count if count else 0.0

    return {
        "ws_server_result_mean_ms": mean_ms("perfpulse_live_result_seconds"),
        "ws_server_send_lag_mean_ms": mean_ms("perfpulse_live_send_lag_seconds"),
        "ws_server_queries": samples.get("perfpulse_live_result_queries_total", 0.0),
        "ws_server_frames": samples.get("perfpulse_live_frames_sent_total", 0.0),
        "ws_server_events": samples.get("perfpulse_live_events_sent_total", 0.0),
        **closed,
    }


@dataclass
class _Received:
    """What one receiver process measured."""

    connect_ms: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    cpu_s: float = 0.0  # its CPU time while results flowed


def _receivers(url: str, subscriptions: int, connections: int, pipe: Connection) -> None:
    """A process of ``connections`` clients: opens them, says ``ready``, receives from the ``since_ms``
    it is sent until it is sent ``stop``, then sends back what it measured."""
    asyncio.run(_receive_all(url, subscriptions, connections, pipe))


async def _receive_all(url: str, subscriptions: int, connections: int, pipe: Connection) -> None:
    found = _Received()
    sockets: list[ClientConnection] = []
    at_once = max(1, HANDSHAKES_AT_ONCE // RECEIVER_PROCESSES)
    for start in range(0, connections, at_once):
        sockets += await asyncio.gather(
            *(_open(url, subscriptions, found.connect_ms) for _ in range(min(at_once, connections - start)))
        )
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    since_ms = await loop.run_in_executor(None, pipe.recv)
    began = time.process_time()
    receivers = [asyncio.create_task(_receive(ws, since_ms, found.latencies, found.times)) for ws in sockets]
    await loop.run_in_executor(None, pipe.recv)  # stop
    found.cpu_s = time.process_time() - began
    for ws in sockets:
        await ws.close()
    await asyncio.gather(*receivers, return_exceptions=True)
    pipe.send(found)


def measure(
    settings: Settings, connections: int = 1_000, subscriptions: int = 10, seconds: float = 30
) -> dict[str, float]:
    """Figures of the live feed of the deployment of ``settings`` (its API must be up and its
    stream worker in its group)."""
    url = settings.api_url.replace("http", "ws", 1) + "/api/v1/live?interval_ms=0"
    spawn = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for i in range(RECEIVER_PROCESSES):
        ours, theirs = spawn.Pipe()
        count = connections // RECEIVER_PROCESSES + (i < connections % RECEIVER_PROCESSES)
        processes.append(spawn.Process(target=_receivers, args=(url, subscriptions, count, theirs), daemon=True))
        processes[-1].start()
        pipes.append(ours)
    try:
        for pipe in pipes:
            if not pipe.poll(300):
                raise RuntimeError("live: a receiver process did not open its connections in 300 s")
            pipe.recv()
        since_ms = int(time.time() * 1000) + 1_000  # the first whole window after everyone subscribed
        for pipe in pipes:
            pipe.send(since_ms)
        with ProcessPoolExecutor(1, mp_context=spawn) as sender:
            sent = sender.submit(_send_apart, settings.api_url, subscriptions, seconds).result()
        time.sleep(5)  # the last windows close (window + grace) and are stored
        server = _server_figures(settings.api_url)
        for pipe in pipes:
            pipe.send("stop")
        received = [pipe.recv() for pipe in pipes]
    finally:
        for process in processes:
            process.join(30)
            process.kill()
    connect_ms = [ms for r in received for ms in r.connect_ms]
    latencies = [ms for r in received for ms in r.latencies]
    times = [t for r in received for t in r.times]
    if len(times) < 2:
        raise RuntimeError(f"live: {len(times)} results received for {sent} points sent")
    span_s = (max(times) - min(times)) / 1000
    return {
        "ws_connections": float(connections),
        "ws_connect_p99_ms": float(np.percentile(connect_ms, 99)),
        "ws_p50_ms": float(np.percentile(latencies, 50)),
        "ws_p99_ms": float(np.percentile(latencies, 99)),
        "ws_msgs_per_s": len(times) / span_s if span_s > 0 else 0.0,
        "ws_results": float(len(times)),
        "ws_receivers_cpu_s": sum(r.cpu_s for r in received),
        **server,
    }
