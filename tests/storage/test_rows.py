"""Column buffers: the rows inserted into ClickHouse read back equal to the records they came from."""

from __future__ import annotations

import numpy as np

from schemas import (
    DeadLetter,
    MetricBatch,
    MetricKind,
    Redactor,
    RollupBatch,
    SeriesPoints,
    SpanEvent,
    SpanKind,
    SpanStatus,
)
from schemas.sketch import PAGE_SLOTS
from schemas.spans import SpanArrays
from storage import Store
from storage.rows import DeadLetterColumns, PointColumns, RollupColumns, SpanColumns
from tests.storage.builders import BASE_MS, window_row
from tests.storage.telemetry import BASE_NS, span


def series(name: str, kind: MetricKind, labels: dict[str, str], ts: list[int], values: list[float]) -> SeriesPoints:
    return SeriesPoints(name, kind, labels, np.asarray(ts, dtype=np.int64), np.asarray(values, dtype=np.float64))


def test_points_read_back_equal_with_their_kafka_position(store: Store) -> None:
    columns = PointColumns()
    first = MetricBatch(
        "gateway",
        [
            series("lat", MetricKind.DISTRIBUTION, {"route": "/a"}, [BASE_MS, BASE_MS + 1], [0.0, 12.5]),
            series("reqs", MetricKind.COUNTER, {}, [BASE_MS + 2], [3.0]),
        ],
    )
    second = MetricBatch("frontend", [series("q", MetricKind.GAUGE, {"x": "y"}, [BASE_MS + 999], [-1e-300])])
    first.series[0].weights = np.array([1, 2**32 - 1], dtype=np.int64)  # an OTLP bucket: one value, its count
    columns.add(1, 17, first)
    columns.add(3, 5, second)
    assert columns.rows == 4
    store.insert(*columns.take())
    assert columns.rows == 0
    rows = store.rows(
        "SELECT service, name, kind, labels, toUnixTimestamp64Milli(ts), value, weight, src_partition, src_offset "
        "FROM points ORDER BY ts"
    )
    assert rows == [
        ("gateway", "lat", "distribution", {"route": "/a"}, BASE_MS, 0.0, 1, 1, 17),
        ("gateway", "lat", "distribution", {"route": "/a"}, BASE_MS + 1, 12.5, 2**32 - 1, 1, 17),
        ("gateway", "reqs", "counter", {}, BASE_MS + 2, 3.0, 1, 1, 17),
        ("frontend", "q", "gauge", {"x": "y"}, BASE_MS + 999, -1e-300, 1, 3, 5),
    ]


def test_point_buffer_is_reusable_after_take(store: Store) -> None:
    columns = PointColumns()
    batch = MetricBatch("s", [series("lat", MetricKind.DISTRIBUTION, {}, [BASE_MS], [1.0])])
    for offset in range(3):
        columns.add(0, offset, batch)
        store.insert(*columns.take())
    assert store.rows("SELECT src_offset FROM points ORDER BY src_offset") == [(0,), (1,), (2,)]


def pages_of(keys: list[int], counts: list[int]) -> tuple[list[int], list[list[int]]]:
    """Pages as documented, built the slow way: page ``key // 512``, dense up to the last slot used."""
    pages: dict[int, dict[int, int]] = {}
    for key, count in zip(keys, counts, strict=True):
        pages.setdefault(key // PAGE_SLOTS, {})[key % PAGE_SLOTS] = count
    return sorted(pages), [[slots.get(i, 0) for i in range(max(slots) + 1)] for _, slots in sorted(pages.items())]


def test_rollups_read_back_equal_with_their_histogram_as_pages(store: Store) -> None:
    rows = [
        window_row([5.0, 1.5, 0.0, 1.5, 1e12], labels={"route": "/a"}),  # keys in three pages
        window_row([-2.0, 0.0, -2.0], window_start_ms=BASE_MS + 1_000, late=True),  # a negative page
        window_row([0.0], name="zero"),  # key 0 alone: page 0, slot 0
        window_row([4.0, 6.0], name="reqs", kind=MetricKind.COUNTER),
    ]
    columns = RollupColumns()
    columns.add(42, RollupBatch(2, 1_000, 3, rows))
    store.insert(*columns.take())
    stored = store.rows(
        "SELECT name, service, kind, labels, toUnixTimestamp64Milli(window_start), window_ms, count, sum, min, max, "
        "pages, page_counts, late, src_partition, src_tick, src_chunk, kafka_offset "
        "FROM rollups ORDER BY name, window_start"
    )
    expected = [
        (
            r.name,
            r.service,
            r.kind.value,
            r.labels,
            r.window_start_ms,
            r.window_ms,
            r.count,
            r.sum,
            r.min,
            r.max,
            *pages_of(r.keys.tolist(), r.counts.tolist()),
            r.late,
            2,
            1_000,
            3,
            42,
        )
        for r in sorted(rows, key=lambda r: (r.name, r.window_start_ms))
    ]
    assert stored == expected


def test_dead_letters_keep_a_binary_payload_byte_for_byte(store: Store) -> None:
    payload = bytes(range(256)) + b"\x00\xff"
    letter = DeadLetter("t.metrics", 2, 99, "stream", "values must be finite", payload, BASE_MS)
    columns = DeadLetterColumns()
    columns.add(1, 7, letter)
    store.insert(*columns.take())
    [row] = store.rows(
        "SELECT source_topic, source_partition, source_offset, stage, reason, hex(payload), "
        "toUnixTimestamp64Milli(at), kafka_partition, kafka_offset FROM deadletters"
    )
    assert row == ("t.metrics", 2, 99, "stream", "values must be finite", payload.hex().upper(), BASE_MS, 1, 7)


def test_spans_read_back_with_their_kafka_position_and_secrets_masked(store: Store) -> None:
    columns = SpanColumns(Redactor.of(["secret", "session"]))
    root = span(1, 1, None, 0, 12.5, kind=SpanKind.SERVER, status=SpanStatus.ERROR, tags={"session": "s", "a": "b"})
    root.status_message = "login with password=hunter2 failed"  # "password" is no key here, but text patterns apply
    root.events = [SpanEvent(BASE_NS + 1, "Bearer abcdefghijklm", "warn", {"secret": "x", "n": "1"})]
    columns.add(2, 9, SpanArrays.of([root, span(1, 2, 1, 1, 1)]))
    assert columns.rows == 2
    store.insert(*columns.take())
    assert columns.rows == 0
    rows = store.rows(
        "SELECT span_id, parent_span_id, kind, status, status_message, toUnixTimestamp64Nano(start), duration_ns, tags,"
        " arrayMap(t -> toUnixTimestamp64Nano(t), events.ts), events.message, events.level, events.attributes,"
        " src_partition, src_offset FROM spans ORDER BY start"
    )
    assert rows == [
        (root.span_id, "", "server", "error", "login with password=[REDACTED] failed", BASE_NS, 12_500_000,
         {"session": "[REDACTED]", "a": "b"}, [BASE_NS + 1], ["Bearer [REDACTED]"], ["warn"],
         [{"secret": "[REDACTED]", "n": "1"}], 2, 9),
        ("0000000000000002", root.span_id, "internal", "unset", "", BASE_NS + 1_000_000, 1_000_000, {}, [], [], [], [],
         2, 9),
    ]  # fmt: skip
