"""Demo traffic: the pure generator's shape and statistics, the incident schedule, a run against Kafka."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer

from ingest.demo import SERVICES, IncidentSchedule, Sample, generate_tick, run_demo
from schemas import MetricBatch, MetricKind, Topics, decode_metrics_record

QUIET = IncidentSchedule(seed=0, quiet_s=1e12)  # no incident ever

EXPECTED = {
    "gateway": {
        "http.server.duration", "http.server.requests",
        "process.memory.rss_bytes", "process.memory.limit_bytes", "process.cpu.utilization",
    },
    "orchestrator": {
        "http.server.duration", "http.server.requests", "ai.task.duration", "ai.task.queue_length",
        "process.memory.rss_bytes", "process.memory.limit_bytes", "process.cpu.utilization",
    },
    "frontend": {
        "http.server.duration", "http.server.requests", "ws.message.latency", "ws.connections",
        "process.memory.rss_bytes", "process.memory.limit_bytes", "process.cpu.utilization",
    },
}  # fmt: skip
LABEL_KEYS = {
    "http.server.duration": {"route", "method", "status_code"},
    "http.server.requests": {"route", "status_code"},
    "ai.task.duration": {"task_type"},
}


def run(seconds: float, rate: float, seed: int = 1, tick_s: float = 0.1, schedule: IncidentSchedule = QUIET,
        start_s: float = 0.0) -> list[Sample]:  # fmt: skip
    rng = np.random.default_rng(seed)
    samples: list[Sample] = []
    for k in range(round(seconds / tick_s)):
        samples += generate_tick(rng, start_s + (k + 1) * tick_s, tick_s, rate, schedule)
    return samples


def durations(samples: list[Sample], service: str) -> np.ndarray:
    return np.concatenate([s.values for s in samples if s.service == service and s.name == "http.server.duration"])


def test_tick_has_the_services_metrics_and_labels() -> None:
    samples = run(5.0, 300.0)
    seen: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        seen[sample.service].add(sample.name)
        assert sample.values.dtype == np.float64 and len(sample.values) > 0
        assert np.isfinite(sample.values).all()
        assert set(sample.labels) == LABEL_KEYS.get(sample.name, set())
        assert all(isinstance(v, str) for v in sample.labels.values())
        if sample.kind is MetricKind.DISTRIBUTION:
            assert (sample.values > 0).all()
        if sample.kind is MetricKind.GAUGE:
            assert len(sample.values) == 1 and sample.values[0] >= 0
        if sample.name == "process.cpu.utilization":
            assert 0.0 <= sample.values[0] <= 1.0
    assert dict(seen) == EXPECTED
    routes = {s.labels["route"] for s in samples if s.service == "gateway" and "route" in s.labels}
    assert routes == {"/api/portfolio", "/api/quotes", "/api/orders", "/api/ai/chat", "/health"}
    assert {p.port for p in SERVICES} == {4110, 4210, 4100}


def test_request_rate_is_paced_and_counters_match_durations() -> None:
    samples = run(100.0, 300.0, tick_s=0.5)
    requests = sum(s.values.sum() for s in samples if s.name == "http.server.requests")
    observed = sum(len(s.values) for s in samples if s.name == "http.server.duration")
    assert requests == observed
    assert abs(requests - 30_000) < 1_000


def test_gauges_are_sampled_once_per_second() -> None:
    samples = run(10.0, 100.0, tick_s=0.1)
    levels = [s for s in samples if s.name == "ws.connections"]
    assert len(levels) == 10


def test_same_seed_same_traffic() -> None:
    first, second = run(3.0, 300.0, seed=5), run(3.0, 300.0, seed=5)
    assert [(s.name, dict(s.labels), s.values.tolist()) for s in first] == [
        (s.name, dict(s.labels), s.values.tolist()) for s in second
    ]


def test_latencies_meet_the_spec_targets_outside_incidents() -> None:
    samples = run(600.0, 1_000.0, tick_s=1.0, seed=3)
    for profile in SERVICES:
        p50, p95, p99 = np.percentile(durations(samples, profile.name), [50, 95, 99])
        assert 20 <= p50 <= 40 and 120 <= p95 <= 180 and 300 <= p99 <= 450, (profile.name, p50, p95, p99)
    statuses = defaultdict[str, float](float)
    for s in samples:
        if s.name == "http.server.requests":
            statuses[s.labels["status_code"][0]] += s.values.sum()
    total = sum(statuses.values())
    assert 0.0001 < statuses["5"] / total < 0.001  # ~0.05 % server errors
    assert statuses["4"] / total < 0.03


def test_incident_schedule_is_deterministic_and_spread_over_time() -> None:
    schedule = IncidentSchedule(seed=42)
    assert schedule.in_period(3) == IncidentSchedule(seed=42).in_period(3)
    assert [schedule.in_period(k) for k in range(5)] != [IncidentSchedule(seed=43).in_period(k) for k in range(5)]
    incidents = schedule.started_between(0.0, 1_800.0)
    latency = [i for i in incidents if i.kind == "latency"]
    assert len(latency) == 10  # one per 180 s period
    assert all(i.end_s - i.start_s == pytest.approx(30.0) for i in latency)
    assert all(i.start_s >= 20.0 for i in incidents)  # a quiet start
    assert {i.service for i in incidents} <= {p.name for p in SERVICES}
    assert not schedule.active(5.0)


def test_latency_incident_pushes_p95_above_200_ms() -> None:
    schedule = IncidentSchedule(seed=9)
    incident, _ = schedule.in_period(1)
    during = run(28.0, 1_000.0, tick_s=0.5, schedule=schedule, start_s=incident.start_s)
    assert np.percentile(durations(during, incident.service), 95) > 200
    queue = [s.values[0] for s in during if s.name == "ai.task.queue_length"]
    if incident.service == "orchestrator":
        assert min(queue) > 100
    before = run(28.0, 1_000.0, tick_s=0.5, schedule=schedule, start_s=incident.start_s - 60.0)
    assert np.percentile(durations(before, incident.service), 95) < 200


def test_error_burst_raises_the_5xx_share() -> None:
    schedule = IncidentSchedule(seed=11)
    _, burst = schedule.in_period(2)
    during = run(9.0, 2_000.0, tick_s=0.5, schedule=schedule, start_s=burst.start_s)
    counts = defaultdict[bool, float](float)
    for s in during:
        if s.name == "http.server.requests" and s.service == burst.service:
            counts[s.labels["status_code"].startswith("5")] += s.values.sum()
    assert counts[True] / (counts[True] + counts[False]) > 0.05  # the spec's high_error_rate fires


@pytest.mark.integration
async def test_run_demo_emits_decodable_records_for_every_service(kafka_bootstrap: str, topics: Topics) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(2.0, stop.set)
    stats = await run_demo(kafka_bootstrap, topics.prefix, rate_per_s=300.0, stop=stop, seed=1)
    assert 1.9 <= stats.elapsed_s < 5.0
    assert 400 <= stats.requests <= 800
    assert stats.points > stats.requests and stats.sent == stats.points and stats.dropped == 0

    consumer = AIOKafkaConsumer(
        topics.metrics, bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    names: dict[str, set[str]] = defaultdict(set)
    total = 0
    try:
        while total < stats.points:
            for messages in (await asyncio.wait_for(consumer.getmany(timeout_ms=500), 30)).values():
                for message in messages:
                    batch = decode_metrics_record(message.value)
                    assert isinstance(batch, MetricBatch)
                    assert message.key == batch.service.encode()
                    total += batch.n_points
                    for series in batch.series:
                        names[batch.service].add(series.name)
                        assert series.labels["instance"].startswith("127.0.0.1:")
    finally:
        await consumer.stop()
    assert total == stats.points
    assert set(names) == {"gateway", "orchestrator", "frontend"}
    assert {"http.server.duration", "http.server.requests"} <= names["gateway"]
    assert "ai.task.duration" in names["orchestrator"] and "ws.message.latency" in names["frontend"]


def test_synthetic_traces_chain_frontend_gateway_orchestrator() -> None:
    from ingest.demo import Sample, synthetic_traces
    from schemas import MetricKind, SpanKind, SpanStatus

    frontend = Sample("frontend", "http.server.duration", MetricKind.DISTRIBUTION,
                      {"route": "/", "method": "GET", "status_code": "503"}, np.array([100.0]))  # fmt: skip
    spans = synthetic_traces(np.random.default_rng(1), 1_800_000_000_000_000_000, [frontend])
    assert [(s.service, s.kind) for s in spans] == [
        ("frontend", SpanKind.SERVER), ("frontend", SpanKind.CLIENT), ("gateway", SpanKind.SERVER),
        ("gateway", SpanKind.CLIENT), ("orchestrator", SpanKind.SERVER),
    ]  # fmt: skip
    assert len({s.trace_id for s in spans}) == 1 and spans[0].parent_span_id is None
    for parent, child in itertools.pairwise(spans):
        assert child.parent_span_id == parent.span_id
        assert parent.start_ns <= child.start_ns and child.end_ns <= parent.end_ns
    assert all(s.status is SpanStatus.ERROR for s in spans)
    assert (spans[0].end_ns - spans[0].start_ns) == 100_000_000
