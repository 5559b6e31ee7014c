"""Bound instruments: name and labels checked once at bind, values checked per call, points in the
emitter's buffer, and every point of several threads on Kafka exactly once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ingest import Emitter
from ingest.sdk.instruments import BoundCounter, BoundDistribution, BoundGauge
from schemas import Limits, Topics
from tests.ingest.helpers import read_batches

UNREACHABLE = "127.0.0.1:1"  # connection refused at once: everything stays buffered

Open = dict[tuple[str, str, tuple[tuple[str, str], ...]], list[tuple[int, float]]]


@pytest.fixture
def offline() -> Iterator[Emitter]:
    emitter = Emitter(
        "svc", UNREACHABLE, labels={"env": "test"}, batch_size=5_000, linger_ms=60_000, max_buffer=10_000,
        request_timeout_s=1,
    )  # fmt: skip
    yield emitter
    emitter.close(timeout=0.5)


def open_points(emitter: Emitter) -> Open:
    """The open (not yet drained) points per series: (name, kind, sorted labels) -> [(ts_ms, value)]."""
    buffer = emitter._buffer
    with buffer.lock:
        return {
            (s.name, s.kind.value, tuple(sorted(s.labels.items()))): list(zip(s.ts, s.values, strict=True))
            for s in buffer._dirty
        }


def test_bound_instruments_record_into_their_series(offline: Emitter) -> None:
    before = int(time.time() * 1000)
    hist = offline.bind_distribution("http.server.duration", route="/x", method="GET")
    requests = offline.bind_counter("http.server.requests", route="/x")
    queue = offline.bind_gauge("queue.length", env="prod")  # a call label overrides a default one
    hist.observe(12.5)
    hist.observe(7)
    requests.add()
    requests.add(3)
    queue.set(17.0, ts_ms=before - 60_000)
    after = int(time.time() * 1000)

    got = open_points(offline)
    assert set(got) == {
        ("http.server.duration", "distribution", (("env", "test"), ("method", "GET"), ("route", "/x"))),
        ("http.server.requests", "counter", (("env", "test"), ("route", "/x"))),
        ("queue.length", "gauge", (("env", "prod"),)),
    }
    duration = got[("http.server.duration", "distribution", (("env", "test"), ("method", "GET"), ("route", "/x")))]
    assert [v for _, v in duration] == [12.5, 7.0]
    assert all(before <= ts <= after for ts, _ in duration)
    assert [v for _, v in got[("http.server.requests", "counter", (("env", "test"), ("route", "/x")))]] == [1.0, 3.0]
    assert got[("queue.length", "gauge", (("env", "prod"),))] == [(before - 60_000, 17.0)]
    assert offline.buffered == 5 and offline.dropped == 0
    assert hist.name == "http.server.duration"
    assert hist.labels == {"env": "test", "route": "/x", "method": "GET"}
    assert repr(queue) == "BoundGauge('queue.length', {'env': 'prod'})"


def test_bound_and_unbound_calls_share_one_series(offline: Emitter) -> None:
    hist = offline.bind_distribution("latency", route="/a")
    hist.observe(1.0)
    offline.observe("latency", 2.0, route="/a")
    hist.observe(3.0)
    with offline.timer("latency", route="/a"):
        pass
    hist.observe_many([4.0, 5.0])
    (series,) = open_points(offline).values()
    assert [v for _, v in series][:3] == [1.0, 2.0, 3.0]
    assert 0.0 <= series[3][1] < 1_000.0  # the timer's elapsed ms
    assert [v for _, v in series][4:] == [4.0, 5.0]


def test_name_and_labels_are_checked_at_bind_only(offline: Emitter, monkeypatch: pytest.MonkeyPatch) -> None:
    hist = offline.bind_distribution("latency", route="/r")

    def refuse(*args: object) -> str | None:
        pytest.fail("a name or labels were checked again after bind")

    monkeypatch.setattr("ingest.sdk.emitter.check_labels", refuse)
    monkeypatch.setattr("ingest.sdk.emitter.check_metric_name", refuse)
    for i in range(1_000):
        hist.observe(float(i))
    assert offline.buffered == 1_000


@pytest.mark.parametrize(
    ("bind", "offending"),
    [
        (lambda e: e.bind_distribution("1bad"), "'1bad'"),
        (lambda e: e.bind_counter("ok", **{"bad key": "x"}), "'bad key'"),
        (lambda e: e.bind_gauge("ok", service="x"), "'service'"),
        (lambda e: e.bind_distribution("ok", route=200), "'route'"),
        (lambda e: e.bind_distribution("ok", route="x" * 2000), "'route'"),
    ],
)
def test_bad_names_and_labels_raise_at_bind(offline: Emitter, bind: object, offending: str) -> None:
    with pytest.raises(ValueError) as info:
        bind(offline)  # type: ignore[operator]
    assert offending in str(info.value)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (float("nan"), ValueError, "must be finite and within ±1e\\+18, got nan"),
        (float("inf"), ValueError, "got inf"),
        (-float("inf"), ValueError, "got -inf"),
        (2e18, ValueError, "got 2e\\+18"),
        ("12.5", TypeError, "must be a number, got '12.5'"),
        (None, TypeError, "must be a number, got None"),
    ],
)
def test_bad_values_raise_naming_the_series_and_buffer_nothing(
    offline: Emitter, value: object, error: type[Exception], match: str
) -> None:
    instruments: list[BoundDistribution | BoundCounter | BoundGauge] = [
        offline.bind_distribution("d"),
        offline.bind_counter("c"),
        offline.bind_gauge("g"),
    ]
    for instrument in instruments:
        with pytest.raises(error, match=match) as info:
            instrument._record(value)  # type: ignore[arg-type]
        assert repr(instrument.name) in str(info.value)
    with pytest.raises(ValueError, match="at index 1"):
        offline.bind_distribution("d").observe_many([1.0, 2e18])
    assert offline.buffered == 0


def test_limits_of_values_are_the_emitters() -> None:
    small = Emitter("svc", UNREACHABLE, limits=Limits(max_abs_value=100.0), request_timeout_s=1)
    try:
        small.bind_gauge("g").set(-100.0)
        with pytest.raises(ValueError, match="within ±100"):
            small.bind_gauge("g").set(100.5)
        assert small.buffered == 1
    finally:
        small.close(timeout=0.5)


def test_counter_increments_must_not_be_negative(offline: Emitter) -> None:
    requests = offline.bind_counter("requests")
    with pytest.raises(ValueError, match="counter 'requests' increment must not be negative, got -1"):
        requests.add(-1)
    requests.add(0)
    assert offline.buffered == 1


def test_timestamps_are_checked_when_given(offline: Emitter) -> None:
    hist = offline.bind_distribution("m")
    now = int(time.time() * 1000)
    with pytest.raises(ValueError, match="in the past"):
        hist.observe(1.0, ts_ms=now - 25 * 3_600_000)
    with pytest.raises(ValueError, match="in the future"):
        offline.bind_counter("c").add(1.0, ts_ms=now + 3_600_000)
    assert offline.buffered == 0


def test_a_full_buffer_drops_bound_points_and_counts_them() -> None:
    emitter = Emitter("svc", UNREACHABLE, batch_size=5_000, linger_ms=60_000, max_buffer=1_000, request_timeout_s=1)
    try:
        hist = emitter.bind_distribution("m")
        for i in range(1_500):
            hist.observe(float(i))
        assert emitter.buffered == 1_000 and emitter.dropped == 500
        emitter.close(timeout=0.5)
        hist.observe(1.0)  # after close: dropped, never raises
        assert emitter.dropped == 1_501
    finally:
        emitter.close(timeout=0.5)


@pytest.mark.integration
async def test_bound_points_of_many_threads_arrive_exactly_once(kafka_bootstrap: str, topics: Topics) -> None:
    emitter = Emitter("gateway", kafka_bootstrap, topic_prefix=topics.prefix, batch_size=500, linger_ms=10)
    shared = emitter.bind_distribution("http.server.duration", route="/shared")

    def work(thread: int) -> None:
        own = emitter.bind_counter("http.server.requests", thread=str(thread))
        for i in range(5_000):
            shared.observe(float(thread * 10_000 + i))
            own.add(float(i))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert await emitter.aclose(timeout=30) is True
    assert emitter.sent == 40_000 and emitter.dropped == 0

    got = Counter[tuple[str, tuple[tuple[str, str], ...], float]]()
    for _, batch in await read_batches(kafka_bootstrap, topics.metrics):
        assert batch.n_points <= 500
        for s in batch.series:
            got.update((s.name, tuple(sorted(s.labels.items())), float(v)) for v in s.values)
    expected = Counter[tuple[str, tuple[tuple[str, str], ...], float]]()
    for n in range(4):
        expected.update(("http.server.duration", (("route", "/shared"),), float(n * 10_000 + i)) for i in range(5_000))
        expected.update(("http.server.requests", (("thread", str(n)),), float(i)) for i in range(5_000))
    assert got == expected
