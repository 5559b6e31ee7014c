"""Shared test vectors: the exact Kafka records (key, headers, value) perfpulse's encoders write for
given inputs, stored as JSON in this folder so that every SDK (the Python one here, the TypeScript one
in sdk/js) is held to the same bytes.

Each ``<kind>.json`` (``metrics``, ``spans``, ``logs``) is a list of cases ``{"name", "input",
"expected": {"key", "headers", "value"}}``: ``input`` in the field names of the schemas' dataclasses
(nanosecond times as decimal strings, since JSON readers without big integers would round them);
``expected.value`` is the record's value as UTF-8 JSON text, ``headers`` a list of ``[name, value]``
text pairs, ``key`` the record's key as text. :func:`encode` turns an input into its record; the
files are written by ``python -m schemas.vectors.generate`` and checked by
``tests/schemas/test_vectors.py`` and ``sdk/js/test/vectors.test.mjs``.

``tasks.json`` is written by hand: the task-queue metrics both SDKs record (``emitter.task``,
``pp.task``). Each case is a list of ``steps`` (``created``, ``started``, ``ended`` of a task type and
priority at given times) with the points each step must record, in order (``name``, ``kind``,
``labels``, ``value``); checked by ``tests/ingest/sdk/test_tasks.py`` and ``sdk/js/test/tasks.test.mjs``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np

from schemas.logs import LogLevel, LogRecord, encode_logs
from schemas.records import RecordType, type_headers
from schemas.spans import Span, SpanEvent, SpanKind, SpanStatus, encode_spans
from schemas.wire import MetricBatch, MetricKind, SeriesPoints, encode_metric_batch

__all__ = ["KINDS", "VECTORS_DIR", "Expected", "Kind", "encode", "load"]

VECTORS_DIR = Path(__file__).resolve().parent
Kind = Literal["metrics", "spans", "logs"]
KINDS: tuple[Kind, ...] = ("metrics", "spans", "logs")


class Expected(TypedDict):
    """One Kafka record as text: what a producer hands to Kafka (UTF-8 encoded)."""

    key: str
    headers: list[list[str]]
    value: str


def load(kind: Kind) -> list[dict[str, Any]]:
    """The stored cases of ``kind``."""
    cases: list[dict[str, Any]] = json.loads((VECTORS_DIR / f"{kind}.json").read_text(encoding="utf-8"))
    return cases


def encode(kind: Kind, data: dict[str, Any]) -> Expected:
    """The record perfpulse writes for the input ``data`` of a case of ``kind``."""
    if kind == "metrics":
        batch = _metric_batch(data)
        return _record(batch.service, RecordType.METRICS, encode_metric_batch(batch))
    if kind == "spans":
        spans = [_span(s) for s in data["spans"]]
        return _record(spans[0].service, RecordType.SPANS, encode_spans(spans))
    records = [_log(r) for r in data["logs"]]
    return _record(records[0].service, RecordType.LOGS, encode_logs(records))


def _record(key: str, kind: RecordType, value: bytes) -> Expected:
    headers = [[name, raw.decode()] for name, raw in type_headers(kind)]
    return {"key": key, "headers": headers, "value": value.decode()}


def _metric_batch(data: dict[str, Any]) -> MetricBatch:
    series = [
        SeriesPoints(
            name=s["name"],
            kind=MetricKind(s["kind"]),
            labels=dict(s["labels"]),
            ts=np.asarray(s["ts"], dtype=np.int64),
            values=np.asarray(s["values"], dtype=np.float64),
            weights=None if s.get("weights") is None else np.asarray(s["weights"], dtype=np.int64),
        )
        for s in data["series"]
    ]
    return MetricBatch(service=data["service"], series=series)


def _span(s: dict[str, Any]) -> Span:
    return Span(
        trace_id=s["trace_id"],
        span_id=s["span_id"],
        parent_span_id=s["parent_span_id"],
        service=s["service"],
        operation=s["operation"],
        start_ns=int(s["start_ns"]),
        end_ns=int(s["end_ns"]),
        kind=SpanKind(s["kind"]),
        status=SpanStatus(s["status"]),
        status_message=s["status_message"],
        tags=dict(s["tags"]),
        events=[SpanEvent(int(e["ts_ns"]), e["message"], e["level"], dict(e["attributes"])) for e in s["events"]],
    )


def _log(r: dict[str, Any]) -> LogRecord:
    return LogRecord(
        ts_ns=int(r["ts_ns"]),
        service=r["service"],
        level=LogLevel(r["level"]),
        message=r["message"],
        attributes=dict(r["attributes"]),
        trace_id=r["trace_id"],
        span_id=r["span_id"],
    )
