"""The spans record codec: the column decoder accepts and refuses exactly what the span-by-span
decoder does, and the encoding is the documented one."""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest

from schemas import Limits, Span, SpanEvent, SpanKind, SpanStatus, WireError
from schemas.spans import SpanArrays, decode_span_arrays, decode_spans, encode_spans

T0 = 1_800_000_000_000_000_000


def spans() -> list[Span]:
    root = Span(
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", None, "gateway", "GET /quote", T0, T0 + 5_000_000,
        SpanKind.SERVER, SpanStatus.ERROR, "boom", {"http.route": "/quote", "user": "u1"},
        [SpanEvent(T0 + 1, "cache miss", "warn", {"key": "q:1"}), SpanEvent(T0 + 2, "retry")],
    )  # fmt: skip
    child = Span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b8", "00f067aa0ba902b7", "quotes", "load", T0, T0)
    return [root, child]


def record(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"type": "spans", "v": 1, "spans": items})


def outcome(decode: Callable[[bytes, Limits], Any], data: bytes, limits: Limits) -> Any:
    try:
        decoded = decode(data, limits)
    except WireError as exc:
        return f"refused: {exc}"
    return decoded if isinstance(decoded, SpanArrays) else SpanArrays.of(decoded)


def test_the_record_is_the_documented_json() -> None:
    root = spans()[0]
    [item] = orjson.loads(encode_spans([root]))["spans"]
    assert list(item) == [
        "trace_id", "span_id", "parent_span_id", "service", "operation", "start_ns", "end_ns", "kind", "status",
        "status_message", "tags", "events",
    ]  # fmt: skip
    assert (item["kind"], item["status"], item["parent_span_id"]) == ("server", "error", None)
    assert item["events"][0] == {
        "ts_ns": T0 + 1,
        "message": "cache miss",
        "level": "warn",
        "attributes": {"key": "q:1"},
    }


def test_columns_hold_every_field_of_every_span() -> None:
    arrays = decode_span_arrays(encode_spans(spans()))
    assert arrays == SpanArrays.of(decode_spans(encode_spans(spans())))
    assert arrays.parent_span_id == ["", "00f067aa0ba902b7"]
    assert arrays.kind == ["server", "internal"] and arrays.status == ["error", "unset"]
    assert arrays.event_message == [("cache miss", "retry"), ()]
    assert arrays.event_level == [("warn", "info"), ()]
    assert arrays.event_attributes == [({"key": "q:1"}, {}), ()]
    assert len(arrays) == 2


def test_the_arrays_leave_the_garbage_collector_one_object_per_span_with_logs() -> None:
    """The sink holds a flush's arrays until it inserts them; every tracked object among them is walked
    by each garbage collection, on the API's event loop. Before: 4 lists per span. Now only a span
    with logs keeps one, the tuple of its logs' attribute maps (a tuple holding dicts stays tracked)."""
    root = spans()[0]
    many = [replace(root, span_id=f"{i:016x}", events=root.events if i % 10 == 0 else []) for i in range(1, 1001)]
    arrays = decode_span_arrays(encode_spans(many))
    gc.collect()  # a collection untracks the tuples of strings, numbers and string maps it meets
    held = [
        column
        for name in ("tags", "event_ts", "event_message", "event_level", "event_attributes")
        for column in getattr(arrays, name)
    ]
    assert sum(map(gc.is_tracked, held)) == 100
    assert not any(map(gc.is_tracked, arrays.tags))


# (field path, bad value): each makes the record unacceptable, or (a few) acceptable in both decoders.
MUTATIONS: list[tuple[tuple[Any, ...], Any]] = [
    (("trace_id",), "0" * 32),
    (("trace_id",), "4BF92F3577B34DA6A3CE929D0E0E4736"),
    (("trace_id",), "4bf92f3577b34da6a3ce929d0e0e473"),
    (("trace_id",), 7),
    (("span_id",), "0" * 16),
    (("span_id",), "00f067aa0ba902bx"),
    (("span_id",), "00f067aa0ba902b7\n"),
    (("parent_span_id",), ""),
    (("parent_span_id",), "0" * 16),
    (("parent_span_id",), ["00f067aa0ba902b7"]),
    (("service",), ""),
    (("service",), "has space"),
    (("service",), "s" * 101),
    (("operation",), ""),
    (("operation",), "o" * 201),
    (("operation",), None),
    (("start_ns",), T0 + 10**12),
    (("start_ns",), 1.5),
    (("end_ns",), True),
    (("end_ns",), "1"),
    (("kind",), "SERVER"),
    (("kind",), ["server"]),
    (("status",), "failed"),
    (("status_message",), 3),
    (("tags",), {"a": 1}),
    (("tags",), ["a"]),
    (("tags",), {f"k{i}": "v" for i in range(129)}),
    (("events",), {"ts_ns": 1}),
    (("events",), ""),
    (("events",), [{"ts_ns": T0}]),
    (("events",), [{"ts_ns": T0, "message": "m"}] * 129),
    (("events", 0, "ts_ns"), "1"),
    (("events", 0, "message"), None),
    (("events", 0, "level"), 3),
    (("events", 0, "attributes"), {"k": None}),
    (("events", 0), "event"),
    ((), "span"),
    ((), ["span"]),
]


@pytest.mark.parametrize(("path", "value"), MUTATIONS)
@pytest.mark.parametrize("index", [0, 1])
def test_the_column_decoder_decides_as_the_span_decoder(path: tuple[Any, ...], value: Any, index: int) -> None:
    items: list[Any] = orjson.loads(encode_spans(spans()))["spans"]
    if not path:
        items[index] = value
    else:
        target = items[index]
        if path[0] == "events" and len(path) > 1 and not target["events"]:
            target["events"] = copy.deepcopy(items[0]["events"])
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    data = record(items)
    limits = Limits()
    expected = outcome(decode_spans, data, limits)
    assert outcome(decode_span_arrays, data, limits) == expected
    if path[:1] in (("trace_id",), ("span_id",), ("service",), ("operation",), ("kind",), ("tags",), ()):
        assert isinstance(expected, str) and f"spans[{index}]" in expected  # the bad span is named


def test_a_record_of_another_shape_is_refused() -> None:
    with pytest.raises(WireError):
        decode_span_arrays(b'{"type": "logs", "logs": []}')
    assert len(decode_span_arrays(record([]))) == 0
