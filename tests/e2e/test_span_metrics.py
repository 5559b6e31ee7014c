"""Span-derived RED metrics through the stream stage and the query API: spans written to the
spans topic come back as span.duration / span.calls / span.errors per service and operation."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from schemas import Span, SpanStatus, encode_spans
from tests.e2e.conftest import Deployment, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def make_spans(n: int, now_ns: int, seed: int) -> list[Span]:
    rng = np.random.default_rng(seed)
    spans = []
    for i in range(n):
        duration_ns = int(rng.lognormal(3.0, 0.7) * 1e6)
        end = now_ns - int(rng.integers(0, 5_000)) * 1_000_000
        spans.append(
            Span(
                trace_id=f"{i + 1:032x}", span_id=f"{i + 1:016x}", parent_span_id=None,
                service=("gateway", "orchestrator")[i % 2], operation=("GET /quotes", "POST /orders")[i % 3 == 0],
                start_ns=end - duration_ns, end_ns=end,
                status=SpanStatus.ERROR if i % 10 == 0 else SpanStatus.OK,
            )
        )  # fmt: skip
    return spans


async def produce(bootstrap: str, topic: str, spans: list[Span], per_record: int = 500) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for start in range(0, len(spans), per_record):
            batch = spans[start : start + per_record]
            await producer.send_and_wait(topic, encode_spans(batch), key=batch[0].trace_id.encode())
    finally:
        await producer.stop()


def test_spans_become_red_metrics_per_service_and_operation(deployment: Deployment) -> None:
    now_ns = time.time_ns()
    spans = make_spans(6_000, now_ns, seed=3)
    asyncio.run(produce(deployment.settings.kafka_bootstrap, deployment.settings.topics.spans, spans))
    start, end = now_ns // 1_000_000 - 60_000, now_ns // 1_000_000 + 60_000
    window = {"start": start, "end": end, "group_by": "service,operation"}
    deployment.wait_count("span.duration", start, end, len(spans))

    durations = deployment.get("/api/v1/query", metric="span.duration", stats="p50,p95,count", **window).json()
    for series in durations["series"]:
        group = series["group"]
        values = [s.duration_ms for s in spans if (s.service, s.operation) == (group["service"], group["operation"])]
        [point] = series["points"]
        assert point["count"] == len(values)
        for stat, q in (("p50", 50), ("p95", 95)):
            exact = float(np.percentile(values, q))
            assert abs(point[stat] - exact) <= 0.01 * exact, (group, stat, point[stat], exact)
    assert len(durations["series"]) == 4

    def sums(metric: str) -> dict[tuple[str, str], float]:
        body = deployment.get("/api/v1/query", metric=metric, stats="sum", **window).json()
        return {(s["group"]["service"], s["group"]["operation"]): s["points"][0]["sum"] for s in body["series"]}

    calls = Counter((s.service, s.operation) for s in spans)
    wait_for(lambda: sums("span.calls") == {k: float(v) for k, v in calls.items()}, 30, "span.calls")
    errors = Counter((s.service, s.operation) for s in spans if s.status is SpanStatus.ERROR)
    assert sums("span.errors") == {k: float(v) for k, v in errors.items()}
