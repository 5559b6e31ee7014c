"""Cached reads: the dashboard's mix of queries, asked by many clients at once over the last hour
(``end`` now, as the dashboard asks), closed loop; answers per second and their latency.

Run as ``python -m bench.cached --url URL [--clients N] [--seconds S] [--pid PID]`` (a key in
``PERFPULSE_API_KEY`` when the deployment has keys; its rate limits off) in a process of its own (the
load generator must not share the API's event loop); prints one JSON line: ``answered``, ``errors``,
``seconds``, ``qps``, ``p50_ms``, ``p99_ms`` and the p99 of each request of the mix. With ``--pid``
(the API process), also ``api_cpu_s_per_1000``: its CPU seconds (user + system, all its threads:
ClickHouse reads included) per 1,000 answers while the clients ran, the figure that holds when other
work shares the machine (answers per second do not).

Each client is one keep-alive HTTP/1.1 connection written to directly with asyncio streams: httpx's
pooled client topped out near 100 requests/s at 64 connections here (its own overhead; the same
server answered 2,400 /healthz per second to this client), so it would measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import numpy as np
import orjson
import psutil

__all__ = ["MIX"]

_BATCH = orjson.dumps(
    {
        "queries": [
            {"metric": "http.server.duration", "stats": ["p50", "p95", "p99", "rate"], "step": "10s",
             "group_by": ["service"]},
            {"metric": "http.server.duration", "stats": ["p95", "count"], "step": "60s",
             "group_by": ["service", "route"]},
            {"metric": "http.server.duration", "stats": ["count"], "group_by": []},
        ]
    }
)  # fmt: skip
_QUERY = urlencode({"metric": "http.server.duration", "stats": "p50,p95,p99,count", "step": "10s"})

# name -> (method, path and query, body): the dashboard's mix
MIX: dict[str, tuple[str, str, bytes]] = {
    "batch": ("POST", "/api/v1/query/batch", _BATCH),
    "query": ("GET", f"/api/v1/query?{_QUERY}", b""),
    "services": ("GET", "/api/v1/services", b""),
    "alerts": ("GET", "/api/v1/alerts", b""),
    "logs": ("GET", "/api/v1/logs?limit=50", b""),
}


class _Connection:
    """One keep-alive HTTP/1.1 connection: a request at a time, answers read by Content-Length."""

    def __init__(self, host: str, port: int, key: str | None) -> None:
        self.host, self.port = host, port
        self.headers = f"Host: {host}:{port}\r\nAccept-Encoding: br, gzip\r\n"
        if key:
            self.headers += f"Authorization: Bearer {key}\r\n"
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def ask(self, method: str, target: str, body: bytes) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if method == "POST" else ""
        writer.write(f"{method} {target} HTTP/1.1\r\n{self.headers}{extra}\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return int(head.split(b" ", 2)[1])

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()


async def _client(connection: _Connection, first: int, deadline: float, took: dict[str, list[float]]) -> int:
    """Ask the mix in turn (from ``first``) until ``deadline``; return how many answers were not 200."""
    errors = 0
    names = list(MIX)
    i = first
    try:
        while time.monotonic() < deadline:
            name = names[i % len(names)]
            began = time.perf_counter()
            status = await connection.ask(*MIX[name])
            took[name].append((time.perf_counter() - began) * 1000)
            errors += status != 200
            i += 1
    finally:
        connection.close()
    return errors


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds process ``pid`` used so far (0 without one)."""
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def run(url: str, clients: int, seconds: float, key: str | None = None, pid: int | None = None) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    warm = _Connection(host, port, key)
    for name, request in MIX.items():  # warm: the first answer of each is read from ClickHouse
        if (status := await warm.ask(*request)) != 200:
            raise RuntimeError(f"{name} answered {status} while warming up")
    warm.close()
    took: dict[str, list[float]] = {name: [] for name in MIX}
    cpu_before = _cpu_seconds(pid)
    began = time.monotonic()
    connections = [_Connection(host, port, key) for _ in range(clients)]
    errors = await asyncio.gather(*(_client(c, i, began + seconds, took) for i, c in enumerate(connections)))
    elapsed = time.monotonic() - began
    cpu = _cpu_seconds(pid) - cpu_before
    every = np.concatenate([np.array(t) for t in took.values()])
    return {
        **({"api_cpu_s_per_1000": cpu / len(every) * 1000} if pid is not None else {}),
        "answered": len(every),
        "errors": sum(errors),
        "seconds": elapsed,
        "qps": len(every) / elapsed,
        "p50_ms": float(np.percentile(every, 50)),
        "p99_ms": float(np.percentile(every, 99)),
        **{f"{name}_p99_ms": float(np.percentile(t, 99)) for name, t in took.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--pid", type=int, default=None, help="the API process: report its CPU per answer")
    args = parser.parse_args()
    key = os.environ.get("PERFPULSE_API_KEY")
    print(orjson.dumps(asyncio.run(run(args.url, args.clients, args.seconds, key, args.pid))).decode())


if __name__ == "__main__":
    main()
