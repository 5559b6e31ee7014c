"""Benchmark traffic from a separate process, through the SDK (``ingest.Emitter``).

Modes (one JSON line on stdout when done):

- ``burst``: N points as fast as ``observe()`` takes them, timestamps = now: one ``observe(value)``
  call per point on bound instruments (``Emitter.bind_distribution``, one per service and route,
  taken in turn), or ``observe_many`` with ``--bulk``.
- ``steady``: R points/s for S seconds, timestamps = now, paced every 10 ms, one ``observe`` call
  per point on bound instruments; also prints the number of points per 1 s window (for freshness).
- ``backfill``: N points with timestamps spread evenly over the last H hours, oldest first, in
  bulk (``observe_many``): a store to query.
- ``spans``: N spans (traces of 20: a server span and 19 children, 7 services) spread over the
  last H hours, written to the spans topic in records of 1,000: a store of traces to look up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections import Counter

import numpy as np
import orjson

from ingest import Emitter
from ingest.sdk.instruments import BoundDistribution
from schemas import Span, SpanKind, encode_spans

SERVICES = ("gateway", "orchestrator", "frontend")
ROUTES = ("/api/portfolio", "/api/quotes", "/api/orders", "/api/ai/ask")
METRIC = "http.server.duration"


def _emitters(bootstrap: str, prefix: str) -> list[Emitter]:
    return [
        Emitter(service, bootstrap, topic_prefix=prefix, batch_size=2_000, linger_ms=50, max_buffer=2_000_000)
        for service in SERVICES
    ]


def _instruments(emitters: list[Emitter]) -> list[BoundDistribution]:
    """One bound instrument per service and route (name and labels checked here, once)."""
    return [e.bind_distribution(METRIC, route=route) for e in emitters for route in ROUTES]


def burst(emitters: list[Emitter], n: int, bulk: bool) -> dict[str, float]:
    """``bulk``: observe_many() in chunks of 1,000 per series, else one bound observe() per point."""
    rng = np.random.default_rng(1)
    values = rng.lognormal(3.3, 0.8, n)
    combos = [(e, route) for e in emitters for route in ROUTES]
    first = time.time()
    if bulk:
        step = 1_000 * len(combos)
        for start in range(0, n, step):
            for k, (emitter, route) in enumerate(combos):
                emitter.observe_many(METRIC, values[start + k : start + step : len(combos)], route=route)
    else:
        for observe, value in zip(
            itertools.cycle([h.observe for h in _instruments(emitters)]), values.tolist(), strict=False
        ):
            observe(value)
    recorded = time.time()
    for emitter in emitters:
        emitter.flush(timeout=300)
    return {"first_send": first, "recorded": recorded, "acked": time.time()}


def steady(emitters: list[Emitter], rate: float, seconds: float) -> dict[str, object]:
    rng = np.random.default_rng(2)
    observers = itertools.cycle([h.observe for h in _instruments(emitters)])
    per_window: Counter[int] = Counter()
    tick_s = 0.01
    start = time.time()
    sent = 0
    while (now := time.time()) < start + seconds:
        due = int((now - start) * rate) - sent
        if due > 0:
            now_ms = int(now * 1000)
            for observe, value in zip(observers, rng.lognormal(3.3, 0.8, due).tolist(), strict=False):
                observe(value, ts_ms=now_ms)
            per_window[now_ms - now_ms % 1000] += due
            sent += due
        time.sleep(max(0.0, tick_s - (time.time() - now)))
    for emitter in emitters:
        emitter.flush(timeout=120)
    return {"sent": sent, "per_window": {str(k): v for k, v in sorted(per_window.items())}}


def backfill(emitters: list[Emitter], n: int, hours: float) -> dict[str, float]:
    rng = np.random.default_rng(3)
    end_ms = int(time.time() * 1000) - 60_000
    start_ms = end_ms - int(hours * 3_600_000)
    chunk = 20_000
    combos = [(e, route) for e in emitters for route in ROUTES]
    for offset in range(0, n, chunk):
        size = min(chunk, n - offset)
        ts = start_ms + (np.arange(offset, offset + size, dtype=np.int64) * (end_ms - start_ms)) // n
        values = rng.lognormal(3.3, 0.8, size)
        for k, (emitter, route) in enumerate(combos):
            while emitter.buffered > 1_500_000:
                time.sleep(0.01)
            emitter.observe_many(METRIC, values[k :: len(combos)], ts_ms=ts[k :: len(combos)], route=route)
    for emitter in emitters:
        emitter.flush(timeout=600)
    return {"start_ms": start_ms, "end_ms": end_ms}


def spans(bootstrap: str, prefix: str, n: int, hours: float) -> dict[str, object]:
    from aiokafka import AIOKafkaProducer

    per_trace, per_record = 20, 1_000
    end_ns = time.time_ns() - 60_000_000_000
    gap_ns = int(hours * 3_600e9) // (n // per_trace)

    def record(first: int) -> tuple[bytes, bytes]:
        batch = []
        for k in range(first, min(first + per_record, n)):
            trace, index = divmod(k, per_trace)
            start = end_ns - (n // per_trace - trace) * gap_ns + index * 1_000_000
            batch.append(
                Span(
                    trace_id=f"{trace + 1:032x}", span_id=f"{k + 1:016x}",
                    parent_span_id=None if index == 0 else f"{k - index + 1:016x}",
                    service=f"svc-{(trace + index) % 7}", operation=f"op-{index}",
                    start_ns=start, end_ns=start + (per_trace - index) * 1_000_000,
                    kind=SpanKind.SERVER if index == 0 else SpanKind.INTERNAL,
                    tags={"http.route": f"/r{trace % 13}", "user": f"u{trace % 1000}"},
                )
            )  # fmt: skip
        return batch[0].trace_id.encode(), encode_spans(batch)

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=4 << 20)
        await producer.start()
        try:
            pending = []
            for first in range(0, n, per_record):
                key, value = record(first)
                pending.append(await producer.send(f"{prefix}spans", value, key=key))
                if len(pending) >= 200:
                    await asyncio.gather(*pending)
                    pending = []
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    asyncio.run(produce())
    sample = [f"{t:032x}" for t in range(1, n // per_trace + 1, max(1, n // per_trace // 500))]
    return {"traces": n // per_trace, "sample": sample, "dropped": 0}


def services(bootstrap: str, prefix: str, count: int, seconds: float, breaching: int) -> dict[str, object]:
    """Requests of ``count`` services for ``seconds`` (20 per service per second, 20 ms), straight to
    Kafka in one record per service every 250 ms; the first ``breaching`` services answer in 450 ms
    during one whole window 1 s long, starting at ``breach_ms`` (reported)."""
    from ingest.producer import RecordProducer
    from schemas import MetricBatch, MetricKind, SeriesPoints, Topics

    start = time.time()
    breach_ms = (int(start * 1000) // 1000 + int(seconds // 2)) * 1000

    async def produce() -> None:
        producer = RecordProducer(bootstrap, Topics(prefix), client_id="bench-services")
        try:
            while (now := time.time()) < start + seconds:
                now_ms = int(now * 1000)
                ts = np.full(5, now_ms, dtype=np.int64)
                breach = breach_ms <= now_ms < breach_ms + 1000
                batches = [
                    MetricBatch(f"svc-{i}", [SeriesPoints("http.server.duration", MetricKind.DISTRIBUTION, {}, ts,
                                                          np.full(5, 450.0 if breach and i < breaching else 20.0))])
                    for i in range(count)
                ]  # fmt: skip
                await producer.send_metrics(batches)
                await asyncio.sleep(max(0.0, 0.25 - (time.time() - now)))
        finally:
            await producer.stop()

    asyncio.run(produce())
    return {"breach_ms": breach_ms, "dropped": 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["burst", "steady", "backfill", "spans", "services"])
    parser.add_argument("--services", type=int, default=1_000)
    parser.add_argument("--breaching", type=int, default=100)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=50_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--bulk", action="store_true", help="burst with observe_many instead of observe")
    args = parser.parse_args()
    if args.mode == "services":
        out = services(args.bootstrap, args.prefix, args.services, args.seconds, args.breaching)
        sys.stdout.write(orjson.dumps(out).decode() + "\n")
        return
    if args.mode == "spans":
        sys.stdout.write(orjson.dumps(spans(args.bootstrap, args.prefix, args.points, args.hours)).decode() + "\n")
        return
    emitters = _emitters(args.bootstrap, args.prefix)
    result: dict[str, object]
    if args.mode == "burst":
        result = {**burst(emitters, args.points, args.bulk)}
    elif args.mode == "steady":
        result = steady(emitters, args.rate, args.seconds)
    else:
        result = {**backfill(emitters, args.points, args.hours)}
    result["sent_acked"] = sum(e.sent for e in emitters)
    result["dropped"] = sum(e.dropped for e in emitters)
    for emitter in emitters:
        emitter.close()
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
