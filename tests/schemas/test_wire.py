"""Wire encoding of Kafka records: what is encoded decodes to the same thing, and any bad record is a
:class:`WireError` with a reason (never another exception: a consumer dead-letters it and goes on)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    DeadLetter,
    Limits,
    MetricBatch,
    MetricKind,
    RollupBatch,
    RollupRow,
    SeriesPoints,
    Tick,
    WireError,
    decode_deadletter,
    decode_metrics_record,
    decode_rollups,
    decode_tick,
    encode_deadletter,
    encode_metric_batch,
    encode_rollups,
    encode_tick,
    pack_records,
)

NOW = 1_800_000_000_000


def series(name: str, kind: MetricKind, labels: dict[str, str], values: list[float]) -> SeriesPoints:
    ts = np.arange(NOW, NOW + len(values), dtype=np.int64)
    return SeriesPoints(name, kind, labels, ts, np.asarray(values, dtype=np.float64))


def rollup_row(**overrides: Any) -> RollupRow:
    fields: dict[str, Any] = {
        "service": "gateway",
        "name": "http.server.duration",
        "kind": MetricKind.DISTRIBUTION,
        "labels": {"route": "/a"},
        "window_start_ms": NOW,
        "window_ms": 1_000,
        "count": 3,
        "sum": 6.5,
        "min": 0.0,
        "max": 5.0,
        "keys": np.array([0, 13_460, 14_965], dtype=np.int32),
        "counts": np.array([1, 1, 1], dtype=np.int64),
        **overrides,
    }
    return RollupRow(**fields)


def metrics_record(**overrides: Any) -> bytes:
    raw_series = {"name": "lat", "kind": "distribution", "labels": {}, "ts": [NOW], "values": [1.0]}
    raw_series.update(overrides.pop("series_fields", {}))
    return orjson.dumps({"type": "metrics", "v": 1, "service": "gateway", "series": [raw_series], **overrides})


def test_metric_batch_round_trips_every_series_exactly() -> None:
    batch = MetricBatch(
        "gateway",
        [
            series("http.server.duration", MetricKind.DISTRIBUTION, {"route": "/a"}, [0.0, 1e-300, 12.5, 1e18]),
            series("requests", MetricKind.COUNTER, {}, [1.0, 2.0]),
            series("queue.depth", MetricKind.GAUGE, {"q": "x", "r": "y"}, [-3.25]),
        ],
    )
    decoded = decode_metrics_record(encode_metric_batch(batch))
    assert isinstance(decoded, MetricBatch)
    assert decoded.service == "gateway" and decoded.n_points == 7
    for got, sent in zip(decoded.series, batch.series, strict=True):
        assert (got.name, got.kind, got.labels) == (sent.name, sent.kind, sent.labels)
        assert got.ts.dtype == np.int64 and got.ts.tolist() == sent.ts.tolist()
        assert got.values.dtype == np.float64 and got.values.tolist() == sent.values.tolist()


def test_tick_round_trips() -> None:
    assert decode_tick(encode_tick(NOW)) == Tick(NOW) == decode_metrics_record(encode_tick(NOW))


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (orjson.dumps({"type": "metrics", "close_ms": NOW}), "cannot decode tick: record type is 'metrics'"),
        (orjson.dumps({"type": "tick", "close_ms": "soon"}), "close_ms must be epoch milliseconds, found 'soon'"),
        (orjson.dumps({"type": "tick", "close_ms": -1}), "close_ms must be epoch milliseconds, found -1"),
        (orjson.dumps({"type": "tick", "close_ms": True}), "close_ms must be epoch milliseconds, found True"),
    ],
)
def test_bad_ticks_are_refused_with_the_reason(record: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=re.escape(reason)):
        decode_tick(record)


def test_series_without_kind_is_a_distribution() -> None:
    raw = orjson.loads(metrics_record())
    del raw["series"][0]["kind"]
    decoded = decode_metrics_record(orjson.dumps(raw))
    assert isinstance(decoded, MetricBatch) and decoded.series[0].kind is MetricKind.DISTRIBUTION


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (orjson.dumps({"type": "spans"}), "expected 'metrics' or 'tick'"),
        (orjson.dumps({"type": "tick", "close_ms": "soon"}), "close_ms must be epoch milliseconds"),
        (metrics_record(service=""), "service must be a non-empty string"),
        (metrics_record(service="a b"), "characters outside"),
        (orjson.dumps({"type": "metrics", "service": "s", "series": []}), "series must be a non-empty list"),
        (orjson.dumps({"type": "metrics", "service": "s", "series": [5]}), "series[0] must be an object"),
        (metrics_record(series_fields={"name": "9x"}), "series[0]: name"),
        (metrics_record(series_fields={"kind": "histogram"}), "kind 'histogram' is not one of"),
        (metrics_record(series_fields={"kind": ["counter"]}), "is not one of"),
        (metrics_record(series_fields={"labels": {"service": "x"}}), "reserved"),
        (metrics_record(series_fields={"labels": ["a"]}), "labels must be an object"),
        (metrics_record(series_fields={"ts": [NOW, NOW], "values": [1.0]}), "equal length"),
        (metrics_record(series_fields={"ts": [], "values": []}), "non-empty lists"),
        (metrics_record(series_fields={"ts": [[NOW]], "values": [[1.0]]}), "ts must be integers"),
        (metrics_record(series_fields={"ts": ["noon"]}), "ts must be integers"),
        (metrics_record(series_fields={"values": [None]}), "values must be numbers"),
        (metrics_record(series_fields={"ts": [1e30]}), "ts must be integers"),
    ],
)
def test_bad_metrics_record_is_a_wire_error_with_the_reason(record: bytes, reason: str) -> None:
    with pytest.raises(WireError) as caught:
        decode_metrics_record(record)
    assert reason in str(caught.value)


@pytest.mark.parametrize("fields", [{"ts": [NOW + 0.5]}, {"values": ["12.5"]}, {"values": [True]}])
def test_series_with_non_integer_ts_or_non_numeric_values_is_a_wire_error(fields: dict[str, Any]) -> None:
    with pytest.raises(WireError):
        decode_metrics_record(metrics_record(series_fields=fields))


def test_record_over_the_point_limit_is_a_wire_error() -> None:
    batch = MetricBatch("s", [series("lat", MetricKind.DISTRIBUTION, {}, [1.0] * 11)])
    with pytest.raises(WireError, match="11 points in one record, the limit is 10"):
        decode_metrics_record(encode_metric_batch(batch), Limits(max_points_per_batch=10))


def test_rollups_round_trip_keys_and_counts_exactly() -> None:
    keys = np.array([-40_000, -1, 0, 1, 2**31 - 1], dtype=np.int32)
    rows = [
        rollup_row(keys=keys, counts=np.array([1, 3, 2, 2**40, 1], dtype=np.int64), count=7),
        rollup_row(kind=MetricKind.COUNTER, keys=keys[:0], counts=np.empty(0, np.int64), late=True, labels={}),
    ]
    batch = RollupBatch(src_partition=3, tick_offset=1_234, chunk=2, rows=rows)
    decoded = decode_rollups(encode_rollups(batch))
    assert (decoded.src_partition, decoded.tick_offset, decoded.chunk) == (3, 1_234, 2)
    assert len(decoded.rows) == 2
    for got, sent in zip(decoded.rows, rows, strict=True):
        assert (got.service, got.name, got.kind, got.labels, got.late) == (
            sent.service,
            sent.name,
            sent.kind,
            sent.labels,
            sent.late,
        )
        assert (got.window_start_ms, got.window_ms, got.count, got.sum, got.min, got.max) == (
            sent.window_start_ms,
            sent.window_ms,
            sent.count,
            sent.sum,
            sent.min,
            sent.max,
        )
        assert got.keys.dtype == np.int32 and got.counts.dtype == np.int64
        assert got.keys.tolist() == sent.keys.tolist() and got.counts.tolist() == sent.counts.tolist()


@pytest.mark.parametrize(
    "record",
    [
        orjson.dumps({"type": "metrics"}),
        orjson.dumps({"type": "rollups", "src_partition": 0, "tick_offset": 1}),
        orjson.dumps({"type": "rollups", "src_partition": 0, "tick_offset": 1, "chunk": 0, "rows": [[1]]}),
        orjson.dumps({"type": "rollups", "src_partition": 0, "tick_offset": 1, "chunk": 0, "rows": None}),
        encode_rollups(RollupBatch(0, 1, 0, [rollup_row()])).replace(b'"distribution"', b'"histogram"'),
        encode_rollups(RollupBatch(0, 1, 0, [rollup_row(keys=np.array([1], np.int32), counts=np.array([1]))])).replace(
            b"AQAAAA==", b"AQAA"
        ),
        encode_rollups(RollupBatch(0, 1, 0, [rollup_row(counts=np.array([1, 1]))])),
    ],
)
def test_bad_rollups_record_is_a_wire_error(record: bytes) -> None:
    with pytest.raises(WireError, match="cannot decode rollups"):
        decode_rollups(record)


def test_values_whose_sums_could_overflow_are_refused_at_decode() -> None:
    """Bounding values at ingest keeps every window sum finite (orjson cannot write inf)."""
    with pytest.raises(WireError, match="within"):
        decode_metrics_record(metrics_record(series_fields={"values": [1.7e308]}))


def test_dead_letter_round_trips_a_binary_payload() -> None:
    letter = DeadLetter("t.metrics", 2, 99, "stream", "values must be finite", bytes(range(256)) + b"\x00", NOW)
    assert decode_deadletter(encode_deadletter(letter)) == letter


def test_dead_letter_missing_a_field_is_a_wire_error() -> None:
    raw = orjson.loads(encode_deadletter(DeadLetter("t", 0, 0, "s", "r", b"x", NOW)))
    del raw["reason"]
    with pytest.raises(WireError, match="cannot decode dead letter"):
        decode_deadletter(orjson.dumps(raw))


int64s = st.integers(-(2**63), 2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | int64s | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
record_fields = {
    "type": st.sampled_from(["metrics", "tick", "rollups", "deadletter"]) | json_values,
    "service": st.sampled_from(["gateway", ""]) | json_values,
    "close_ms": int64s | json_values,
    "series": st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["lat", "9x"]) | json_values,
                "kind": st.sampled_from(["counter", "gauge"]) | json_values,
                "labels": st.dictionaries(st.text(max_size=4), json_values, max_size=3) | json_values,
                "ts": st.lists(int64s, max_size=3) | json_values,
                "values": st.lists(st.floats() | int64s | json_values, max_size=3) | json_values,
            },
        ),
        max_size=3,
    )
    | json_values,
    "rows": st.lists(st.dictionaries(st.sampled_from(["service", "kind", "keys", "count"]), json_values)),
    "src_partition": int64s | json_values,
    "tick_offset": int64s | json_values,
    "chunk": int64s | json_values,
    "payload": st.text(max_size=8) | json_values,
}


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({}, optional=record_fields))
def test_decoders_raise_only_wire_errors_on_arbitrary_records(raw: dict[str, Any]) -> None:
    data = orjson.dumps(raw)
    for decode in (decode_metrics_record, decode_rollups, decode_deadletter):
        with contextlib.suppress(WireError):
            decode(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_decoders_raise_only_wire_errors_on_arbitrary_bytes(data: bytes) -> None:
    for decode in (decode_metrics_record, decode_rollups, decode_deadletter):
        with contextlib.suppress(WireError):
            decode(data)


def test_weights_round_trip_and_absent_weights_stay_absent() -> None:
    weighted = series("http.server.duration", MetricKind.DISTRIBUTION, {}, [0.5, 2.0, 8.0])
    weighted.weights = np.array([1, 7, 2**32 - 1], dtype=np.int64)
    plain = series("http.server.duration", MetricKind.DISTRIBUTION, {"r": "x"}, [1.0])
    decoded = decode_metrics_record(encode_metric_batch(MetricBatch("gateway", [weighted, plain])))
    assert isinstance(decoded, MetricBatch)
    got, unweighted = decoded.series
    assert got.weights is not None and got.weights.tolist() == [1, 7, 2**32 - 1]
    assert unweighted.weights is None


@pytest.mark.parametrize(
    ("weights", "reason"),
    [([1], "one per value"), ([1, 2.5], "integers"), ([1, 0], "within 1.."), ([1, 2**32], "within 1..")],
)
def test_bad_weights_are_a_wire_error(weights: list[Any], reason: str) -> None:
    record = metrics_record(series_fields={"ts": [NOW, NOW], "values": [1.0, 2.0], "weights": weights})
    with pytest.raises(WireError, match=reason):
        decode_metrics_record(record)


def test_pack_records_splits_weights_with_their_values() -> None:
    whole = series("lat", MetricKind.DISTRIBUTION, {}, [float(i) for i in range(25)])
    whole.weights = np.arange(1, 26, dtype=np.int64)
    parts = [s for b in pack_records("gateway", [whole], Limits(max_points_per_record=10)) for s in b.series]
    assert [len(p.values) for p in parts] == [10, 10, 5]
    for part in parts:
        assert part.weights is not None and (part.weights == part.values + 1).all()
