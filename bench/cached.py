"""Cached reads: the dashboard's mix of queries, asked by many clients at once over the last hour
(``end`` now, as the dashboard asks), closed loop; answers per second and their latency.

Run as ``python -m bench.cached --url URL [--clients N] [--seconds S]`` (a key in
``PERFPULSE_API_KEY`` when the deployment has keys; its rate limits off) in a process of its own (the
load generator must not share the API's event loop); prints one JSON line: ``answered``, ``errors``,
``seconds``, ``qps``, ``p50_ms``, ``p99_ms`` and the p99 of each request of the mix.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import orjson

__all__ = ["MIX"]

_BATCH = {
    "queries": [
        {
            "metric": "http.server.duration",
            "stats": ["p50", "p95", "p99", "rate"],
            "step": "10s",
            "group_by": ["service"],
        },
        {"metric": "http.server.duration", "stats": ["p95", "count"], "step": "60s", "group_by": ["service", "route"]},
        {"metric": "http.server.duration", "stats": ["count"], "group_by": []},
    ]
}

# name -> a request of the dashboard's mix, built for the client that sends it
MIX: dict[str, Callable[[httpx.AsyncClient], Any]] = {
    "batch": lambda c: c.post("/api/v1/query/batch", json=_BATCH),
    "query": lambda c: c.get(
        "/api/v1/query", params={"metric": "http.server.duration", "stats": "p50,p95,p99,count", "step": "10s"}
    ),
    "services": lambda c: c.get("/api/v1/services"),
    "alerts": lambda c: c.get("/api/v1/alerts"),
    "logs": lambda c: c.get("/api/v1/logs", params={"limit": 50}),
}


async def _client(client: httpx.AsyncClient, first: int, deadline: float, took: dict[str, list[float]]) -> int:
    """Ask the mix in turn (from ``first``) until ``deadline``; return how many answers were not 200."""
    errors = 0
    names = list(MIX)
    i = first
    while time.monotonic() < deadline:
        name = names[i % len(names)]
        began = time.perf_counter()
        response = await MIX[name](client)
        took[name].append((time.perf_counter() - began) * 1000)
        errors += response.status_code != 200
        i += 1
    return errors


async def run(url: str, clients: int, seconds: float, key: str | None = None) -> dict[str, Any]:
    took: dict[str, list[float]] = {name: [] for name in MIX}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Accept-Encoding": "br, gzip"}  # as a browser asks
    if key:
        headers["Authorization"] = f"Bearer {key}"
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60, headers=headers) as client:
        for name in MIX:  # warm: the first answer of each is read from ClickHouse
            (await MIX[name](client)).raise_for_status()
        began = time.monotonic()
        errors = await asyncio.gather(*(_client(client, i, began + seconds, took) for i in range(clients)))
        elapsed = time.monotonic() - began
    every = np.concatenate([np.array(t) for t in took.values()])
    return {
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
    args = parser.parse_args()
    key = os.environ.get("PERFPULSE_API_KEY")
    print(orjson.dumps(asyncio.run(run(args.url, args.clients, args.seconds, key))).decode())


if __name__ == "__main__":
    main()
