"""Tracing with the SDK: spans nest through contextvars (across asyncio tasks too), errors and span logs
are recorded, W3C ``traceparent`` carries a trace between services, and spans reach Kafka redacted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ingest import Emitter, SpanContext, continue_trace, current_context, current_span, extract, inject, use_context
from ingest.sdk.traceparent import format_traceparent, parse_traceparent
from schemas import Limits, Span, SpanKind, SpanStatus, Topics
from schemas.redact import REDACTED
from tests.ingest.helpers import read_spans

UNREACHABLE = "127.0.0.1:1"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture
def emitter() -> Iterator[Emitter]:
    """An emitter whose Kafka is unreachable: every finished span stays buffered for inspection."""
    offline = Emitter("checkout", UNREACHABLE, linger_ms=20, request_timeout_s=1)
    yield offline
    offline.close(timeout=0.5)


def finished(emitter: Emitter) -> dict[str, Span]:
    """The spans the emitter holds (open, built or in flight), by operation."""
    buffer = emitter._spans
    with buffer.lock:
        spans = [*buffer._open, *(s for b in buffer._pending for s in b.items)]
        spans += [s for b in buffer._in_flight.values() for s in b.items]
    return {s.operation: s for s in spans}


# --------------------------------------------------------------------------- nesting


def test_nested_spans_share_the_trace_and_link_to_their_parent(emitter: Emitter) -> None:
    assert current_span() is None
    with emitter.span("handle", kind="server", route="/cart") as root:
        assert current_span() is root
        with emitter.span("db.query") as child:
            assert current_span() is child
            with emitter.span("decode") as grandchild:
                pass
        assert current_span() is root
    assert current_span() is None and current_context() is None
    spans = finished(emitter)
    assert spans["handle"].parent_span_id is None and spans["handle"].kind is SpanKind.SERVER
    assert spans["db.query"].parent_span_id == root.span_id
    assert spans["decode"].parent_span_id == child.span_id == spans["db.query"].span_id
    assert {s.trace_id for s in spans.values()} == {root.trace_id}
    assert len({s.span_id for s in spans.values()}) == 3
    assert grandchild.trace_id == root.trace_id
    assert all(s.service == "checkout" for s in spans.values())


async def test_async_tasks_nest_under_the_span_that_started_them_and_never_see_their_siblings(
    emitter: Emitter,
) -> None:
    seen: dict[str, str | None] = {}

    async def work(name: str) -> None:
        async with emitter.span(name):
            await asyncio.sleep(0.01)  # the other task runs meanwhile, inside its own span
            async with emitter.span(f"{name}.step") as step:
                await asyncio.sleep(0)
                seen[name] = step.parent_span_id
            span = current_span()
            assert span is not None and span.operation == name

    async with emitter.span("root") as root:
        await asyncio.gather(work("a"), work("b"), asyncio.create_task(work("c")))
        assert current_span() is root
    assert current_span() is None
    spans = finished(emitter)
    for name in "abc":
        assert spans[name].parent_span_id == root.span_id
        assert spans[f"{name}.step"].parent_span_id == spans[name].span_id == seen[name]
    assert {s.trace_id for s in spans.values()} == {root.trace_id}


async def test_a_task_started_outside_any_span_starts_its_own_trace(emitter: Emitter) -> None:
    async def lone() -> str:
        with emitter.span("lone") as span:
            return span.trace_id

    with emitter.span("busy") as busy:
        pass
    assert await asyncio.create_task(lone()) != busy.trace_id
    assert finished(emitter)["lone"].parent_span_id is None


def test_durations_are_measured_and_times_are_epoch_ns(emitter: Emitter) -> None:
    before = time.time_ns()
    with emitter.span("sleep"):
        time.sleep(0.05)
    span = finished(emitter)["sleep"]
    assert before <= span.start_ns <= time.time_ns()
    assert 50 <= span.duration_ms < 1_000


# --------------------------------------------------------------------------- errors, logs, tags


def test_an_exception_marks_the_span_an_error_and_is_recorded_as_a_span_log(emitter: Emitter) -> None:
    with pytest.raises(KeyError), emitter.span("lookup"):
        raise KeyError("sku-17")
    span = finished(emitter)["lookup"]
    assert span.status is SpanStatus.ERROR
    assert span.status_message == "KeyError: 'sku-17'"
    [event] = span.events
    assert event.level == "error" and event.message == "KeyError: 'sku-17'"
    assert event.attributes["exception.type"] == "KeyError"
    assert event.attributes["exception.message"] == "'sku-17'"
    assert "raise KeyError" in event.attributes["exception.stacktrace"]


def test_an_exception_in_a_child_marks_only_the_spans_it_leaves(emitter: Emitter) -> None:
    with emitter.span("outer"):
        try:
            with emitter.span("inner"):
                raise ValueError("retry me")
        except ValueError:
            pass
    spans = finished(emitter)
    assert spans["inner"].status is SpanStatus.ERROR and spans["outer"].status is SpanStatus.UNSET


async def test_cancellation_ends_the_span_without_marking_it_an_error(emitter: Emitter) -> None:
    async def slow() -> None:
        async with emitter.span("slow"):
            await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = finished(emitter)["slow"]
    assert span.status is SpanStatus.UNSET and span.events == []


def test_span_logs_tags_and_status_are_recorded(emitter: Emitter) -> None:
    with emitter.span("checkout", cart_size=3, premium=True, ratio=0.5, coupon=None, user="u1") as span:
        span.log("cache miss", level="warning", key="cart:u1", attempt=2)
        span.log("priced")
        span.set_tag("items", 7).set_status("ok")
    recorded = finished(emitter)["checkout"]
    assert recorded.tags == {
        "cart_size": "3",
        "premium": "true",
        "ratio": "0.5",
        "coupon": "null",
        "user": "u1",
        "items": "7",
    }
    assert [(e.message, e.level, e.attributes) for e in recorded.events] == [
        ("cache miss", "warn", {"key": "cart:u1", "attempt": "2"}),
        ("priced", "info", {}),
    ]
    assert recorded.status is SpanStatus.OK
    assert recorded.start_ns <= recorded.events[0].ts_ns <= recorded.end_ns


def test_values_past_the_limits_are_truncated_or_dropped_never_raised() -> None:
    limits = Limits(max_span_attributes=4, max_span_events=2, max_attribute_value_length=10)
    emitter = Emitter("svc", UNREACHABLE, limits=limits, request_timeout_s=1)
    try:
        with emitter.span("op", **{f"k{i}": i for i in range(6)}) as span:
            span.set_tag("long", "x" * 50)
            for i in range(5):
                span.log(f"line {i}")
        recorded = finished(emitter)["op"]
        assert len(recorded.tags) == 4 and len(recorded.events) == 2
        assert span.dropped == 1 + 3  # the tag past the limit, the span logs past theirs
    finally:
        emitter.close(timeout=0.5)


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.span(""),
        lambda e: e.span("x" * 201),
        lambda e: e.span("op", kind="sideways"),
        lambda e: e.log("x", level="loud"),
    ],
)
def test_programming_errors_raise_at_the_call(emitter: Emitter, call: object) -> None:
    with pytest.raises(ValueError):
        call(emitter)  # type: ignore[operator]


def test_a_span_can_be_ended_explicitly_without_becoming_current(emitter: Emitter) -> None:
    span = emitter.span("background")
    assert current_span() is None
    span.end()
    span.end()  # idempotent
    assert list(finished(emitter)) == ["background"]


# --------------------------------------------------------------------------- traceparent


def test_traceparent_round_trip(emitter: Emitter) -> None:
    with emitter.span("client", kind="client") as span:
        headers = inject({"accept": "application/json"})
    assert headers["traceparent"] == f"00-{span.trace_id}-{span.span_id}-01"
    context = extract(headers)
    assert context == SpanContext(span.trace_id, span.span_id, sampled=True, remote=True)
    with emitter.span("server", parent=context) as server:
        pass
    assert server.trace_id == span.trace_id and server.parent_span_id == span.span_id


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"00-{TRACE}-{PARENT}",  # no flags
        f"00-{TRACE.upper()}-{PARENT}-01",  # upper case
        f"ff-{TRACE}-{PARENT}-01",  # version ff is invalid
        f"00-{'0' * 32}-{PARENT}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly 55 characters
        f"00-{TRACE[:-1]}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-0g",
        f"00_{TRACE}_{PARENT}_01",
        f"00-{TRACE}-{PARENT}-01,00-{TRACE}-{PARENT}-01",  # two headers folded into one
    ],
)
def test_malformed_traceparent_gives_no_context(value: str) -> None:
    assert parse_traceparent(value) is None
    assert extract({"traceparent": value}) is None


def test_traceparent_details() -> None:
    # A later version may add fields: the known four are read.
    future = parse_traceparent(f"cc-{TRACE}-{PARENT}-01-what-comes-next")
    assert future is not None and future.trace_id == TRACE and future.span_id == PARENT
    unsampled = parse_traceparent(f" 00-{TRACE}-{PARENT}-00 ")  # optional whitespace around the value
    assert unsampled is not None and not unsampled.sampled
    assert format_traceparent(unsampled) == f"00-{TRACE}-{PARENT}-00"
    # Header names are case-insensitive, tracestate travels with the context.
    context = extract({"TraceParent": f"00-{TRACE}-{PARENT}-01", "TraceState": "vendor=abc"})
    assert context is not None and context.trace_state == "vendor=abc"
    assert extract({}) is None and extract({"tracestate": "vendor=abc"}) is None
    headers = inject({"Traceparent": "stale"}, context)
    assert headers == {"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": "vendor=abc"}


def test_inject_outside_any_span_leaves_the_headers_alone() -> None:
    assert inject({"accept": "*/*"}) == {"accept": "*/*"}


def test_continue_trace_makes_the_remote_span_the_parent(emitter: Emitter) -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-01"}
    with continue_trace(headers) as remote:
        assert remote is not None and remote.remote
        assert current_span() is None and current_context() == remote
        with emitter.span("handle", kind="server") as span:
            assert inject({})["traceparent"] == f"00-{TRACE}-{span.span_id}-01"
    assert current_context() is None
    recorded = finished(emitter)["handle"]
    assert recorded.trace_id == TRACE and recorded.parent_span_id == PARENT
    with continue_trace({"traceparent": "bad"}), emitter.span("fresh") as fresh:  # no context: a new trace
        assert fresh.parent_span_id is None and fresh.trace_id != TRACE
    with use_context(None):
        assert current_context() is None


def test_traceparent_interoperates_with_opentelemetry() -> None:
    provider = TracerProvider()
    propagator = TraceContextTextMapPropagator()
    emitter = Emitter("svc", UNREACHABLE, request_timeout_s=1)
    try:
        # OpenTelemetry calls us...
        with provider.get_tracer("test").start_as_current_span("otel-client") as otel_span:
            carrier: dict[str, str] = {}
            propagator.inject(carrier)
        context = extract(carrier)
        otel_context = otel_span.get_span_context()
        assert context is not None
        assert context.trace_id == f"{otel_context.trace_id:032x}" and context.span_id == f"{otel_context.span_id:016x}"
        # ... and we call OpenTelemetry.
        with emitter.span("our-client", parent=context) as ours:
            headers = inject({})
        extracted = otel_trace.get_current_span(propagator.extract(headers)).get_span_context()
        assert f"{extracted.trace_id:032x}" == ours.trace_id and f"{extracted.span_id:016x}" == ours.span_id
    finally:
        emitter.close(timeout=0.5)
        provider.shutdown()


# --------------------------------------------------------------------------- to Kafka


@pytest.mark.integration
def test_two_services_propagating_traceparent_make_one_trace_in_kafka(kafka_bootstrap: str, topics: Topics) -> None:
    gateway = Emitter("gateway", kafka_bootstrap, topic_prefix=topics.prefix, linger_ms=20)
    orchestrator = Emitter("orchestrator", kafka_bootstrap, topic_prefix=topics.prefix, linger_ms=20)
    try:

        def orchestrator_handles(headers: dict[str, str]) -> None:  # the callee, in "another process"
            with continue_trace(headers), orchestrator.span("POST /orders", kind="server") as span:
                span.set_tag("authorization", "Bearer abcdefghijklmnop")
                with orchestrator.span("db.insert", kind="client"):
                    pass

        with gateway.span("POST /api/orders", kind="server"):
            with gateway.span("call orchestrator", kind="client") as client:
                orchestrator_handles(inject({}))
            with pytest.raises(TimeoutError), gateway.span("call pricing", kind="client"):
                raise TimeoutError("pricing did not answer")
        assert gateway.flush(30) and orchestrator.flush(30)
        assert gateway.spans_sent == 3 and orchestrator.spans_sent == 2
    finally:
        gateway.close()
        orchestrator.close()
    records = read_spans(kafka_bootstrap, topics.spans)
    spans = {s.operation: s for _, batch in records for s in batch}
    assert len(spans) == 5
    assert {s.trace_id for s in spans.values()} == {client.trace_id}
    assert all(key == batch[0].service.encode() for key, batch in records)  # keyed by service
    root = spans["POST /api/orders"]
    assert root.parent_span_id is None and root.service == "gateway"
    assert spans["call orchestrator"].parent_span_id == root.span_id
    assert spans["POST /orders"].parent_span_id == client.span_id  # the link across services
    assert spans["POST /orders"].service == "orchestrator" and spans["POST /orders"].kind is SpanKind.SERVER
    assert spans["db.insert"].parent_span_id == spans["POST /orders"].span_id
    assert spans["POST /orders"].tags["authorization"] == REDACTED
    failed = spans["call pricing"]
    assert failed.status is SpanStatus.ERROR and failed.events[0].message == "TimeoutError: pricing did not answer"
    assert root.start_ns <= spans["POST /orders"].start_ns <= spans["POST /orders"].end_ns <= root.end_ns


@pytest.mark.integration
def test_many_spans_are_sent_in_records_of_at_most_500(kafka_bootstrap: str, topics: Topics) -> None:
    emitter = Emitter("svc", kafka_bootstrap, topic_prefix=topics.prefix, linger_ms=50)
    try:
        for i in range(1_200):
            with emitter.span("op", i=i):
                pass
        assert emitter.flush(30)
    finally:
        emitter.close()
    records = read_spans(kafka_bootstrap, topics.spans)
    assert sorted(int(s.tags["i"]) for _, batch in records for s in batch) == list(range(1_200))
    assert max(len(batch) for _, batch in records) <= 500 and len(records) >= 3
