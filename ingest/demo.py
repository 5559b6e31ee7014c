"""Synthetic traffic of the product spec's three services, for demos and end-to-end tests.

gateway (4110), orchestrator (4210) and frontend (4100) emit the spec's key metrics (section 1.1):
request latency and counts per route, AI task durations and queue length, process memory and CPU,
WebSocket latency and connections. Latencies follow the spec's targets (p50 < 50 ms, p95 < 200 ms,
p99 < 500 ms, errors < 0.1 %) so that the alert rules of section 8 stay quiet — except during the
scheduled incidents, which make them fire: every few minutes one service's latency p95 goes above
200 ms for about 30 s, and a short burst of 5xx errors hits one service.

:func:`generate_tick` is pure (randomness comes from the generator passed in), so it is tested
without Kafka; :func:`run_demo` paces it and records the samples through one :class:`Emitter` per
service.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.sdk.emitter import Emitter
from schemas import MetricKind, Span, SpanKind, SpanStatus
from schemas.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = [
    "SERVICES",
    "DemoStats",
    "Incident",
    "IncidentSchedule",
    "Route",
    "Sample",
    "ServiceProfile",
    "generate_tick",
    "run_demo",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # route template, low cardinality ("/api/orders/{id}", never the id itself)
    method: str
    weight: float  # relative share of the service's requests
    scale: float  # latency multiplier against the service's median


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    name: str
    port: int
    share: float  # share of the total request rate
    median_ms: float  # median request latency, milliseconds
    routes: tuple[Route, ...]
    rss_bytes: float  # typical resident memory, bytes
    cpu: float  # typical CPU utilisation, 0..1


SERVICES: tuple[ServiceProfile, ...] = (
    ServiceProfile(
        "gateway", 4110, 0.5, 27.0,
        (
            Route("/api/portfolio", "GET", 30, 1.0),
            Route("/api/quotes", "GET", 35, 0.7),
            Route("/api/orders", "POST", 10, 1.4),
            Route("/api/ai/chat", "POST", 10, 1.8),
            Route("/health", "GET", 15, 0.4),
        ),
        310e6, 0.35,
    ),
    ServiceProfile(
        "orchestrator", 4210, 0.2, 30.0,
        (
            Route("/tasks", "POST", 40, 1.2),
            Route("/tasks/{id}", "GET", 45, 0.8),
            Route("/queue/status", "GET", 15, 0.6),
        ),
        420e6, 0.45,
    ),
    ServiceProfile(
        "frontend", 4100, 0.3, 26.0,
        (
            Route("/", "GET", 25, 1.2),
            Route("/portfolio", "GET", 30, 1.1),
            Route("/static/{asset}", "GET", 40, 0.7),
            Route("/ws", "GET", 5, 1.5),
        ),
        260e6, 0.25,
    ),
)  # fmt: skip

_DIST = MetricKind.DISTRIBUTION
_TASK_TYPES = ("portfolio_analysis", "market_summary", "risk_assessment", "recommendation")
_TASK_MEDIAN_MS = np.array([3200.0, 1800.0, 2600.0, 4100.0])
_CLIENT_ERRORS = ("400", "401", "404", "429")
_SERVER_ERRORS = ("500", "502", "503")

# Latency shape: a lognormal body plus a slow tail (cache misses, GC pauses, upstream retries),
# which gives p50 ~ 1.0, p95 ~ 5.5 and p99 ~ 12 times the median.
_SIGMA = 0.78
_TAIL_SHARE = 0.045
_TAIL_FACTOR = 9.0
_TAIL_SIGMA = 0.45
_ERROR_RATE = 0.0005  # 5xx, outside bursts
_CLIENT_ERROR_RATE = 0.015  # 4xx
_INCIDENT_SLOWDOWN = 3.0  # latency multiplier during a latency incident (p95 well above 200 ms)
_BURST_ERROR_RATE = 0.08  # 5xx share during an error burst


@dataclass(frozen=True, slots=True)
class Sample:
    """Values of one series produced in one tick."""

    service: str
    name: str
    kind: MetricKind
    labels: Mapping[str, str]
    values: FloatArray  # distribution: observations; counter: increments; gauge: levels


@dataclass(frozen=True, slots=True)
class Incident:
    service: str
    kind: str  # "latency" (p95 above 200 ms) or "errors" (a burst of 5xx)
    start_s: float  # seconds since the demo started
    end_s: float


@dataclass(frozen=True, slots=True)
class IncidentSchedule:
    """Where and when incidents happen; a pure function of the seed and the elapsed time.

    In every period of ``period_s`` seconds there is one latency incident of ``latency_s`` seconds
    and one 5xx burst of ``burst_s`` seconds, each on a service and at an offset drawn from
    ``(seed, period)``. Nothing happens in the first ``quiet_s`` seconds.
    """

    seed: int
    period_s: float = 180.0
    latency_s: float = 30.0
    burst_s: float = 10.0
    quiet_s: float = 20.0

    def in_period(self, period: int) -> tuple[Incident, Incident]:
        rng = np.random.default_rng([self.seed, period])
        begin = period * self.period_s
        earliest = max(begin, self.quiet_s) - begin
        incidents = []
        for kind, length in (("latency", self.latency_s), ("errors", self.burst_s)):
            service = SERVICES[int(rng.integers(len(SERVICES)))].name
            offset = float(rng.uniform(earliest, max(earliest, self.period_s - length)))
            incidents.append(Incident(service, kind, begin + offset, begin + offset + length))
        return incidents[0], incidents[1]

    def active(self, elapsed_s: float) -> list[Incident]:
        """Incidents in progress at ``elapsed_s``."""
        period = int(elapsed_s // self.period_s)
        return [i for i in self.in_period(period) if i.start_s <= elapsed_s < i.end_s]

    def started_between(self, from_s: float, to_s: float) -> list[Incident]:
        """Incidents that start in ``[from_s, to_s)``, in order."""
        found = []
        for period in range(int(from_s // self.period_s), int(to_s // self.period_s) + 1):
            found += [i for i in self.in_period(period) if from_s <= i.start_s < to_s]
        return sorted(found, key=lambda i: i.start_s)


def _latencies(rng: np.random.Generator, median_ms: FloatArray) -> FloatArray:
    """One latency per request, milliseconds, given each request's median."""
    n = len(median_ms)
    out = median_ms * np.exp(_SIGMA * rng.standard_normal(n))
    tail = rng.random(n) < _TAIL_SHARE
    out[tail] = median_ms[tail] * _TAIL_FACTOR * np.exp(_TAIL_SIGMA * rng.standard_normal(int(tail.sum())))
    return out


def _statuses(rng: np.random.Generator, methods: list[str], server_error_rate: float) -> list[str]:
    draw = rng.random(len(methods))
    out = []
    for method, u in zip(methods, draw, strict=True):
        if u < server_error_rate:
            out.append(_SERVER_ERRORS[int(u / server_error_rate * len(_SERVER_ERRORS))])
        elif u < server_error_rate + _CLIENT_ERROR_RATE:
            k = (u - server_error_rate) / _CLIENT_ERROR_RATE
            out.append(_CLIENT_ERRORS[int(k * len(_CLIENT_ERRORS))])
        else:
            out.append("201" if method == "POST" else "200")
    return out


def _http_samples(
    rng: np.random.Generator, profile: ServiceProfile, n: int, slowdown: float, server_error_rate: float
) -> list[Sample]:
    weights = np.array([r.weight for r in profile.routes])
    route_of = rng.choice(len(profile.routes), size=n, p=weights / weights.sum())
    scales = np.array([r.scale for r in profile.routes])[route_of]
    durations = _latencies(rng, profile.median_ms * slowdown * scales)
    statuses = _statuses(rng, [profile.routes[i].method for i in route_of], server_error_rate)
    groups: dict[tuple[int, str], list[float]] = {}
    for i, status, duration in zip(route_of.tolist(), statuses, durations.tolist(), strict=True):
        groups.setdefault((i, status), []).append(duration)
    samples = []
    for (i, status), values in sorted(groups.items()):
        route = profile.routes[i]
        samples.append(
            Sample(
                profile.name, "http.server.duration", MetricKind.DISTRIBUTION,
                {"route": route.path, "method": route.method, "status_code": status}, np.array(values),
            )
        )  # fmt: skip
        samples.append(
            Sample(
                profile.name, "http.server.requests", MetricKind.COUNTER,
                {"route": route.path, "status_code": status}, np.array([float(len(values))]),
            )
        )  # fmt: skip
    return samples


def _gauge(service: str, name: str, value: float, **labels: str) -> Sample:
    return Sample(service, name, MetricKind.GAUGE, labels, np.array([value]))


def generate_tick(
    rng: np.random.Generator,
    elapsed_s: float,
    tick_s: float,
    rate_per_s: float,
    schedule: IncidentSchedule,
) -> list[Sample]:
    """The samples of the ``tick_s`` seconds ending ``elapsed_s`` seconds into the demo.

    About ``rate_per_s * tick_s`` HTTP requests, split across the services; AI tasks and WebSocket
    messages in proportion; gauges once per second of demo time (when a whole second ends in the
    tick). Deterministic given the generator's state. Values are finite; durations positive.
    """
    active = schedule.active(elapsed_s)
    slow = {i.service for i in active if i.kind == "latency"}
    failing = {i.service for i in active if i.kind == "errors"}
    total = int(rng.poisson(max(0.0, rate_per_s * tick_s)))
    counts = rng.multinomial(total, [s.share for s in SERVICES])
    samples: list[Sample] = []
    for profile, n in zip(SERVICES, counts.tolist(), strict=True):
        slowdown = _INCIDENT_SLOWDOWN if profile.name in slow else 1.0
        error_rate = _BURST_ERROR_RATE if profile.name in failing else _ERROR_RATE
        if n:
            samples += _http_samples(rng, profile, n, slowdown, error_rate)
        if profile.name == "orchestrator" and (tasks := int(rng.poisson(0.3 * n))):
            kinds = rng.integers(len(_TASK_TYPES), size=tasks)
            durations = _TASK_MEDIAN_MS[kinds] * slowdown * np.exp(0.5 * rng.standard_normal(tasks))
            for k, task_type in enumerate(_TASK_TYPES):
                if (mask := kinds == k).any():
                    labels = {"task_type": task_type}
                    samples.append(Sample("orchestrator", "ai.task.duration", _DIST, labels, durations[mask]))
        if profile.name == "frontend" and (messages := int(rng.poisson(2.0 * n))):
            latencies = 12.0 * slowdown * np.exp(0.5 * rng.standard_normal(messages))
            samples.append(Sample("frontend", "ws.message.latency", _DIST, {}, latencies))

    if math.floor(elapsed_s) > math.floor(elapsed_s - tick_s) or elapsed_s == 0.0:
        samples += _gauges(rng, elapsed_s, slow, rate_per_s)
    return samples


def _gauges(rng: np.random.Generator, elapsed_s: float, slow: set[str], rate_per_s: float) -> list[Sample]:
    """Levels sampled once a second: slow waves plus noise, pushed up during a latency incident."""
    out = []
    load = min(1.0, rate_per_s / 1000.0)  # the spec's throughput target is 1000 req/s
    for profile in SERVICES:
        stressed = profile.name in slow
        wave = math.sin(2 * math.pi * elapsed_s / 600.0 + profile.port)
        rss = profile.rss_bytes * (1.0 + 0.12 * wave + (0.25 if stressed else 0.0)) + rng.normal(0, 4e6)
        cpu = profile.cpu + 0.25 * load + 0.08 * wave + (0.35 if stressed else 0.0) + rng.normal(0, 0.03)
        out.append(_gauge(profile.name, "process.memory.rss_bytes", max(rss, 50e6)))
        # The memory limit the spec's memory_usage (rss / limit) compares with: 1.6 x typical RSS, so
        # memory_threshold (> 0.8) fires only when an incident stresses the service.
        out.append(_gauge(profile.name, "process.memory.limit_bytes", 1.6 * profile.rss_bytes))
        out.append(_gauge(profile.name, "process.cpu.utilization", min(1.0, max(0.0, cpu))))
    queue = 8.0 + 6.0 * math.sin(2 * math.pi * elapsed_s / 240.0) + rng.normal(0, 2.0)
    if "orchestrator" in slow:
        queue += 130.0  # the spec's task_queue_backup rule fires above 100
    out.append(_gauge("orchestrator", "ai.task.queue_length", float(max(0, round(queue)))))
    connections = 1100 + 150 * math.sin(2 * math.pi * elapsed_s / 900.0) + rng.normal(0, 15)
    out.append(_gauge("frontend", "ws.connections", float(max(0, round(connections)))))
    return out


@dataclass(slots=True)
class DemoStats:
    """What one :func:`run_demo` produced."""

    seed: int
    elapsed_s: float = 0.0
    ticks: int = 0
    requests: int = 0  # synthetic HTTP requests
    points: int = 0  # points recorded across all series
    sent: int = 0  # points acknowledged by Kafka
    dropped: int = 0  # points the emitters dropped (Kafka unavailable too long)
    incidents: list[Incident] = field(default_factory=list)  # incidents that started during the run


async def run_demo(
    bootstrap: str,
    topic_prefix: str,
    rate_per_s: float = 300.0,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
    *,
    tick_s: float = 0.1,
    schedule: IncidentSchedule | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> DemoStats:
    """Emit the three services' traffic at ``rate_per_s`` requests per second until ``stop`` is set
    (forever without one), then flush and return what was produced. A random seed is drawn when
    ``seed`` is None (it is in the returned stats, to replay a run)."""
    seed = secrets.randbits(32) if seed is None else seed
    stats = DemoStats(seed=seed)
    rng = np.random.default_rng(seed)
    schedule = IncidentSchedule(seed) if schedule is None else schedule
    stop = asyncio.Event() if stop is None else stop
    emitters = {
        p.name: Emitter(
            p.name, bootstrap, topic_prefix=topic_prefix, labels={"instance": f"127.0.0.1:{p.port}"}, security=security
        )
        for p in SERVICES
    }
    started = last = time.monotonic()
    try:
        while not stop.is_set():
            now = time.monotonic()
            elapsed = now - started
            samples = generate_tick(rng, elapsed, now - last if stats.ticks else 0.0, rate_per_s, schedule)
            stats.incidents += schedule.started_between(last - started, elapsed)
            last = now
            stats.ticks += 1
            for sample in samples:
                stats.points += _record(emitters[sample.service], sample)
                if sample.name == "http.server.requests":
                    stats.requests += int(sample.values.sum())
            for span in synthetic_traces(rng, time.time_ns(), samples):
                emitters[span.service].add_span(span)
            next_tick = started + stats.ticks * tick_s
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_tick - time.monotonic())):
                    await stop.wait()
    finally:
        stats.elapsed_s = time.monotonic() - started
        await asyncio.gather(*(e.aclose() for e in emitters.values()))
        stats.sent = sum(e.sent for e in emitters.values())
        stats.dropped = sum(e.dropped for e in emitters.values())
    return stats


TRACED_PER_TICK = 4  # requests per service per tick also sent as traces (with RED from spans)
_CALLS = {"frontend": "gateway", "gateway": "orchestrator"}  # who calls whom in the demo's traces


def synthetic_traces(rng: np.random.Generator, end_ns: int, samples: list[Sample]) -> list[Span]:
    """Traces for a few of the tick's requests: frontend -> gateway -> orchestrator, each hop a
    server span in its service (with the caller's client span), failing where the request did."""
    spans: list[Span] = []
    for sample in samples:
        if sample.name != "http.server.duration" or sample.service == "orchestrator":
            continue
        failed = sample.labels.get("status_code", "").startswith("5")
        for duration_ms in sample.values[:TRACED_PER_TICK].tolist():
            trace_id = f"{int(rng.integers(1, 2**63)):016x}{int(rng.integers(1, 2**63)):016x}"
            start = end_ns - int(duration_ms * 1e6)
            service, parent, operation = (
                sample.service,
                None,
                f"{sample.labels.get('method', 'GET')} {sample.labels['route']}",
            )
            length = end_ns - start
            while True:
                span_id = f"{int(rng.integers(1, 2**63)):016x}"
                status = SpanStatus.ERROR if failed else SpanStatus.OK
                spans.append(
                    Span(trace_id, span_id, parent, service, operation, start, start + length, SpanKind.SERVER, status)
                )
                callee = _CALLS.get(service)
                if callee is None:
                    break
                client_id = f"{int(rng.integers(1, 2**63)):016x}"
                start, length = start + length // 10, length * 8 // 10
                spans.append(
                    Span(
                        trace_id,
                        client_id,
                        span_id,
                        service,
                        f"call {callee}",
                        start,
                        start + length,
                        SpanKind.CLIENT,
                        status,
                    )
                )
                service, parent, operation = callee, client_id, f"handle {operation}"
    return spans


def _record(emitter: Emitter, sample: Sample) -> int:
    labels: dict[str, Any] = dict(sample.labels)  # label values are str; Any as ** keywords
    if sample.kind is MetricKind.DISTRIBUTION:
        return emitter.observe_many(sample.name, sample.values, **labels)
    record = emitter.count if sample.kind is MetricKind.COUNTER else emitter.gauge
    for value in sample.values.tolist():
        record(sample.name, value, **labels)
    return len(sample.values)
