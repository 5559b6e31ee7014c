"""Trace reads on a real chDB store: a trace by id, search with filters and keyset pages, the service
graph and span RED."""

from __future__ import annotations

import pytest

from schemas import Span, SpanEvent, SpanKind, SpanStatus
from storage import Store, traces
from storage.traces import (
    MAX_TRACE_BYTES,
    TRACE_SQL,
    TraceQuery,
    dependencies,
    fetch_trace,
    search_traces,
    span_red,
)
from tests.storage.builders import BASE_MS
from tests.storage.telemetry import BASE_NS, MS, insert_spans, span, span_id, trace_id

SERVER, CLIENT, ERROR = SpanKind.SERVER, SpanKind.CLIENT, SpanStatus.ERROR
RANGE = (BASE_MS - 60_000, BASE_MS + 3_600_000)


def checkout(trace: int, at_ms: float, *, fail: bool = False, slow: float = 0.0) -> list[Span]:
    """frontend GET /checkout -> (client) -> gateway POST /orders -> (client) -> orders INSERT."""
    return [
        span(trace, 1, None, at_ms, 100 + slow, service="frontend", operation="GET /checkout", kind=SERVER,
             tags={"http.route": "/checkout", "region": "eu"}),
        span(trace, 2, 1, at_ms + 5, 80 + slow, service="frontend", operation="POST gateway", kind=CLIENT),
        span(trace, 3, 2, at_ms + 10, 70 + slow, service="gateway", operation="POST /orders", kind=SERVER,
             status=ERROR if fail else SpanStatus.OK, tags={"region": "eu"}),
        span(trace, 4, 3, at_ms + 20, 40 + slow, service="orders", operation="INSERT", kind=CLIENT,
             status=ERROR if fail else SpanStatus.UNSET),
    ]  # fmt: skip


def test_a_trace_comes_back_whole_with_its_tree_and_nanosecond_times(store: Store) -> None:
    event = SpanEvent(BASE_NS + 7 * MS + 3, "retrying", "warn", {"attempt": "2"})
    spans = checkout(1, 0)
    spans[3].events = [event]
    spans[3].status_message = "deadlock"
    insert_spans(store, [*spans, *checkout(2, 5)])
    tree, truncated = fetch_trace(store, trace_id(1))
    assert tree is not None and not truncated
    assert [(n.depth, n.span.span_id) for n in tree.walk()] == [(i, span_id(i + 1)) for i in range(4)]
    got = {n.span.span_id: n.span for n in tree.walk()}
    assert got == {s.span_id: s for s in spans}  # every field, events included, to the nanosecond
    assert tree.services == ["frontend", "gateway", "orders"]
    assert [s.span_id for s in tree.critical_path] == [span_id(i) for i in (1, 2, 3, 4, 3, 2, 1)]


def test_a_trace_is_read_through_the_trace_ordered_projection(store: Store) -> None:
    insert_spans(store, [*checkout(1, 0), *checkout(2, 5)])
    # force_optimize_projection: ClickHouse refuses the query when no projection serves it.
    params = {"trace_id": trace_id(2), "limit": 10, "max_bytes": MAX_TRACE_BYTES}
    rows = store.rows(TRACE_SQL + " SETTINGS force_optimize_projection = 1", params)
    assert len(rows) == 4


def test_a_trace_of_huge_spans_is_cut_at_the_byte_bound(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traces, "MAX_TRACE_BYTES", 100_000)
    big = [span(3, i + 1, None if i == 0 else 1, i, 1.0, tags={"payload": "x" * 30_000}) for i in range(10)]
    insert_spans(store, big)
    tree, truncated = fetch_trace(store, trace_id(3))
    assert tree is not None and truncated
    got = sorted(n.span.span_id for n in tree.walk())
    assert got == [span_id(i + 1) for i in range(len(got))] and 2 <= len(got) <= 4  # the earliest, ~100 KB of them
    monkeypatch.setattr(traces, "MAX_TRACE_BYTES", 10_000_000)
    whole, cut = fetch_trace(store, trace_id(3))
    assert whole is not None and not cut and len(list(whole.walk())) == 10


def test_an_unknown_trace_is_none(store: Store) -> None:
    insert_spans(store, checkout(1, 0))
    assert fetch_trace(store, trace_id(404)) == (None, False)


def traces_found(store: Store, **filters: object) -> list[str]:
    return [t.trace_id for t in search_traces(store, TraceQuery(*RANGE, **filters)).traces]  # type: ignore[arg-type]


def test_search_filters_on_one_span_and_answers_newest_first(store: Store) -> None:
    insert_spans(store, checkout(1, 0))
    insert_spans(store, checkout(2, 1_000, fail=True), offset=1)
    insert_spans(store, checkout(3, 2_000, slow=500), offset=2)
    insert_spans(store, checkout(4, 3_600_000 + 10))  # after the range
    one, two, three = trace_id(1), trace_id(2), trace_id(3)
    assert traces_found(store) == [three, two, one]
    assert traces_found(store, service="orders") == [three, two, one]
    assert traces_found(store, service="gateway", operation="POST /orders", error=True) == [two]
    assert traces_found(store, service="gateway", error=False) == [three, one]
    assert traces_found(store, operation="INSERT", min_duration_ms=500) == [three]
    assert traces_found(store, operation="INSERT", max_duration_ms=40) == [two, one]
    assert traces_found(store, tags={"http.route": "/checkout", "region": "eu"}) == [three, two, one]
    assert traces_found(store, tags={"region": "us"}) == []
    assert traces_found(store, service="gateway", tags={"http.route": "/checkout"}) == []  # not on the same span
    assert traces_found(store, tags={"http.route": ""}) == []  # an empty value is not a missing tag


def test_summaries_describe_the_whole_trace(store: Store) -> None:
    insert_spans(store, checkout(2, 1_000, fail=True))
    insert_spans(store, [span(9, 5, 77, 50, 10, service="orphan")])  # its root never arrived
    page = search_traces(store, TraceQuery(*RANGE, service="orders"))
    [summary] = page.traces
    assert (summary.trace_id, summary.root_service, summary.root_operation) == (
        trace_id(2),
        "frontend",
        "GET /checkout",
    )
    assert (summary.start_ns, summary.duration_ns) == (BASE_NS + 1_000 * MS, 100 * MS)
    assert (summary.spans, summary.errors, summary.services) == (4, 2, ["frontend", "gateway", "orders"])
    assert page.next_key is None
    [orphan] = search_traces(store, TraceQuery(*RANGE, service="orphan")).traces
    assert (orphan.root_service, orphan.spans) == ("orphan", 1)


def test_pages_cover_every_trace_once_in_order_even_with_equal_start_times(store: Store) -> None:
    spans = []
    for n in range(1, 58):
        spans.extend(checkout(n, (n // 3) * 10))  # three traces start in each 10 ms step
    insert_spans(store, spans)
    everything = traces_found(store, limit=1_000)
    assert len(everything) == 57
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = search_traces(store, TraceQuery(*RANGE, limit=10, after=after))
        seen.extend(t.trace_id for t in page.traces)
        keys = [(t.key_ns, t.trace_id) for t in page.traces]
        assert keys == sorted(keys, reverse=True)
        if page.next_key is None:
            break
        after = page.next_key
    assert seen == everything


def test_exactly_a_full_last_page_has_no_next_key(store: Store) -> None:
    insert_spans(store, [s for n in range(1, 5) for s in checkout(n, n)])
    first = search_traces(store, TraceQuery(*RANGE, limit=2))
    assert first.next_key is not None
    second = search_traces(store, TraceQuery(*RANGE, limit=2, after=first.next_key))
    assert len(second.traces) == 2 and second.next_key is None


def test_dependencies_join_parents_and_children_across_services(store: Store) -> None:
    insert_spans(store, [*checkout(1, 0), *checkout(2, 10, fail=True), *checkout(3, 20, slow=100)])
    # a caller that started before the range still counts its call into it
    insert_spans(store, [
        span(4, 1, None, -30_000, 40_000, service="batch", operation="nightly", kind=SERVER),
        span(4, 2, 1, 100, 10, service="gateway", operation="POST /orders", kind=SERVER),
    ])  # fmt: skip
    edges = {(e.caller, e.callee): e for e in dependencies(store, BASE_MS, BASE_MS + 60_000)}
    assert set(edges) == {("frontend", "gateway"), ("gateway", "orders"), ("batch", "gateway")}
    to_gateway = edges[("frontend", "gateway")]
    assert (to_gateway.calls, to_gateway.errors) == (3, 1)
    assert to_gateway.p95_ms == pytest.approx(170.0, rel=0.1)
    assert (edges[("gateway", "orders")].calls, edges[("gateway", "orders")].errors) == (3, 1)
    assert edges[("batch", "gateway")].calls == 1


def test_span_red_counts_server_spans_or_else_root_spans(store: Store) -> None:
    insert_spans(store, [s for n in range(1, 11) for s in checkout(n, n * 100, fail=n <= 2, slow=n)])
    insert_spans(store, [
        span(20, 1, None, 0, 30, service="cron", operation="sweep", status=ERROR),
        span(20, 2, 1, 1, 10, service="cron", operation="select"),
        span(21, 1, None, 50, 50, service="cron", operation="sweep"),
    ])  # fmt: skip
    red = {r.service: r for r in span_red(store, BASE_MS, BASE_MS + 60_000, (0.5, 0.95, 0.99))}
    assert set(red) == {"cron", "frontend", "gateway", "orders"}
    gateway = red["gateway"]
    assert (gateway.basis, gateway.requests, gateway.errors, gateway.spans) == ("server", 10, 2, 10)
    assert gateway.quantiles[0] == pytest.approx(75.5, rel=0.05)
    assert gateway.quantiles[0] <= gateway.quantiles[1] <= gateway.quantiles[2] <= 80.0
    assert (red["cron"].basis, red["cron"].requests, red["cron"].errors, red["cron"].spans) == ("root", 2, 1, 3)
    assert red["orders"].basis is None  # only client spans below a parent: no requests of its own
    assert red["frontend"].last_seen_ms == BASE_MS + 1_005
