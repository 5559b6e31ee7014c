"""The shared test vectors (schemas/vectors/) match perfpulse's encoders byte for byte, and every
stored record decodes back to its input; sdk/js/test/vectors.test.mjs holds the TypeScript SDK to
the same files."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.logs import decode_logs
from schemas.records import RecordType, record_type
from schemas.spans import decode_spans
from schemas.vectors import KINDS, Kind, encode, load
from schemas.wire import MetricBatch, decode_metrics_record

CASES = [(kind, case) for kind in KINDS for case in load(kind)]


def test_every_kind_has_cases() -> None:
    assert {kind for kind, _ in CASES} == set(KINDS)


@pytest.mark.parametrize(("kind", "case"), CASES, ids=[f"{kind}: {case['name']}" for kind, case in CASES])
def test_encoding_the_input_gives_the_stored_record(kind: Kind, case: dict[str, Any]) -> None:
    assert encode(kind, case["input"]) == case["expected"]


@pytest.mark.parametrize(("kind", "case"), CASES, ids=[f"{kind}: {case['name']}" for kind, case in CASES])
def test_the_stored_record_decodes_to_its_input(kind: Kind, case: dict[str, Any]) -> None:
    expected = case["expected"]
    value = expected["value"].encode()
    headers = [(name, raw.encode()) for name, raw in expected["headers"]]
    assert record_type(headers, value) == RecordType(kind)
    data = case["input"]
    if kind == "metrics":
        batch = decode_metrics_record(value)
        assert isinstance(batch, MetricBatch)
        assert batch.service == data["service"] == expected["key"]
        for series, raw in zip(batch.series, data["series"], strict=True):
            assert (series.name, series.kind.value, series.labels) == (raw["name"], raw["kind"], raw["labels"])
            assert series.ts.tolist() == raw["ts"]
            assert series.values.tolist() == raw["values"]
            assert (None if series.weights is None else series.weights.tolist()) == raw.get("weights")
    elif kind == "spans":
        spans = decode_spans(value)
        assert [(s.span_id, s.start_ns, s.end_ns) for s in spans] == [
            (s["span_id"], int(s["start_ns"]), int(s["end_ns"])) for s in data["spans"]
        ]
        assert expected["key"] == spans[0].service
    else:
        records = decode_logs(value)
        assert [(r.ts_ns, r.message, r.trace_id) for r in records] == [
            (int(r["ts_ns"]), r["message"], r["trace_id"]) for r in data["logs"]
        ]
        assert expected["key"] == records[0].service
