"""HTTP receiver: ``POST /api/v1/ingest/metrics``, ``/spans`` and ``/logs`` -> Kafka.

Answers 202 ``{"accepted": n}`` only after Kafka acknowledged every record of the request (nothing
accepted is lost); 400 with field-level reasons for bad input, 413 for an oversized body, 415 for an
unknown content encoding, 503 with Retry-After when Kafka cannot take the batch (nothing of it is
committed: its records are sent in one Kafka transaction), every ingest slot
is taken and the queue for one is full (or no slot freed in time), the records of the requests waiting
for Kafka hold too many bytes (:mod:`ingest.receivers.offload`), or the worker process holding the
body ended. A rejected request writes nothing. A request with an ``Idempotency-Key`` is answered
once per key (:mod:`ingest.receivers.idempotency`). Span tags, span logs and log records are redacted
(:attr:`IngestContext.redactor`) before they leave for Kafka. Inflating, parsing, redaction,
batching and encoding run in the ingest workers (:mod:`ingest.receivers.offload`: processes for
large bodies), never on the event loop. :func:`read_body` is the one body-reading path, the OTLP
receiver's too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from ingest.receivers import metrics
from ingest.receivers.cumulative_worker import CumulativeWorker
from ingest.receivers.encode import Encoded, Refusal, envelope_records, send_encoded
from ingest.receivers.idempotency import Idempotency
from ingest.receivers.inflate import RawBody
from ingest.receivers.offload import BUSY_RETRY_AFTER_S, Busy, IngestWorkers, Slot, WorkerDied
from ingest.receivers.openapi import RETRY_AFTER_HEADER, Accepted, json_body
from ingest.receivers.spool import encoded_by
from schemas import Limits, MetricsEnvelope, RecordType, Redactor, error_body
from schemas.errors import ErrorBody
from schemas.log_envelope import LogsEnvelope
from schemas.span_envelope import SpansEnvelope

__all__ = ["RETRY_AFTER_S", "BodyError", "IngestContext", "read_body", "router", "send_held"]

RETRY_AFTER_S = 5
_JOIN_OFF_LOOP_BYTES = 1024 * 1024  # from there CPython's bytes.join releases the GIL

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])


@dataclass
class IngestContext:
    """What the receivers need, set on ``app.state.ingest`` by the composition root. One context may
    serve several apps (the API app and the OTLP app on its own port) in one process."""

    producer: RecordProducer
    limits: Limits
    redactor: Redactor = field(default_factory=Redactor)  # applied to spans and logs before Kafka
    # Last totals of cumulative OTLP sums and histograms, per series, kept by a worker process of its own.
    cumulative: CumulativeWorker = field(default_factory=CumulativeWorker)
    workers: IngestWorkers = field(default_factory=IngestWorkers)  # where bodies are parsed, how many at once
    idempotency: Idempotency = field(default_factory=Idempotency)  # answers kept per Idempotency-Key


class BodyError(Exception):
    """A request body that cannot be read: ``status``, a sentence (``error``) and the reason (``msg``)."""

    def __init__(self, status: int, error: str, msg: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.msg = msg
        self.response = JSONResponse(error_body(error, [{"loc": "body", "msg": msg}]), status_code=status)


async def send_held(context: IngestContext, held: Slot, raw: RawBody, encoded: Encoded) -> None:
    """Send ``encoded`` (made from ``raw``) with :func:`send_encoded`, the request's slot ``held``
    given back while Kafka commits (:meth:`IngestWorkers.sending`); :class:`Busy` when the bytes of
    the requests waiting for Kafka leave no room in time."""
    nbytes = len(raw.data) + sum(len(key) + len(value) for key, value, _ in encoded.records)
    async with context.workers.sending(held, nbytes):
        await send_encoded(context.producer, encoded)


async def read_body(request: Request, limit: int) -> RawBody:
    """The request body as sent; :class:`BodyError` past ``limit`` bytes or for a content encoding
    other than gzip or none (refused before the body is read)."""
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding not in ("gzip", "identity"):
        raise BodyError(415, "unsupported content encoding", f"{encoding[:40]!r}: use gzip or none")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, "request body too large", f"{declared[:40]} bytes, the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, "request body too large", f"more than {limit} bytes, the limit is {limit}")
        chunks.append(chunk)
    # Joined on a thread past 1 MiB, where CPython's join copies with the GIL released: on the loop, a
    # 16 MiB join (18-26 ms at load average 9, its new buffer's page faults) kept it from answering.
    data = await asyncio.to_thread(b"".join, chunks) if size > _JOIN_OFF_LOOP_BYTES else b"".join(chunks)
    return RawBody(data, encoding == "gzip")


@dataclass(frozen=True)
class _Signal:
    """How one envelope is named and counted."""

    kind: RecordType  # what the envelope holds, and the topic its records go to
    key: str  # the body's list: "points", "spans", "logs"
    noun: str  # what the list holds, for messages
    count: Callable[[bool, int], None]  # (accepted, n): the Prometheus counters


def _count_points(accepted: bool, n: int) -> None:
    (metrics.POINTS_ACCEPTED if accepted else metrics.POINTS_REJECTED).labels("http").inc(n)


def _count_records(signal: str) -> Callable[[bool, int], None]:
    def count(accepted: bool, n: int) -> None:
        (metrics.RECORDS_ACCEPTED if accepted else metrics.RECORDS_REJECTED).labels("http", signal).inc(n)

    return count


_METRICS = _Signal(RecordType.METRICS, "points", "points", _count_points)
_SPANS = _Signal(RecordType.SPANS, "spans", "spans", _count_records("spans"))
_LOGS = _Signal(RecordType.LOGS, "logs", "log records", _count_records("logs"))


def _reject(signal: _Signal, status: int, body: dict[str, Any], n: int, retry_after_s: int = RETRY_AFTER_S) -> Response:
    metrics.REQUESTS_REJECTED.labels("http", str(status)).inc()
    signal.count(False, n)
    headers = {"Retry-After": str(retry_after_s)} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _receive(request: Request, signal: _Signal) -> Response:
    """Read, validate, send and answer: the flow every envelope shares. The request holds an ingest
    slot until its records are made (503 when none is free); its CPU work runs in the ingest workers."""
    context: IngestContext = request.app.state.ingest
    content_type = request.headers.get("content-type")  # none: read as JSON
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        # text/plain, forms and the like are what a web page may send across sites without asking
        metrics.REQUESTS_REJECTED.labels("http", "415").inc()
        detail = [{"loc": "header.content-type", "msg": f"{content_type!r}: send application/json"}]
        return JSONResponse(error_body("unsupported content type", detail), status_code=415)
    try:
        async with context.workers.slot() as held:
            try:
                raw = await read_body(request, context.limits.max_body_bytes)
            except BodyError as exc:
                metrics.REQUESTS_REJECTED.labels("http", str(exc.status)).inc()
                return exc.response
            return await context.idempotency.answer(request, raw, lambda: _store(context, signal, raw, held))
    except Busy as exc:
        body = error_body(f"cannot accept {signal.noun} now: ingest is busy", [{"loc": "server", "msg": str(exc)}])
        return _reject(signal, 503, body, 0, BUSY_RETRY_AFTER_S)


async def _store(context: IngestContext, signal: _Signal, raw: RawBody, held: Slot) -> Response:
    """Encode the body in the ingest workers and send it: 202, or the refusal."""
    now_ms = time.time_ns() // 1_000_000
    try:
        encoded = await encoded_by(
            context.workers, envelope_records, raw, signal.kind, now_ms, context.limits, context.redactor
        )
    except WorkerDied as exc:
        body = error_body(f"cannot accept {signal.noun} now: {exc}", [{"loc": "server", "msg": str(exc)}])
        return _reject(signal, 503, body, 0)
    if isinstance(encoded, Refusal):
        return _reject(signal, encoded.status, error_body(encoded.error, encoded.details), encoded.items)
    return await _send(context, signal, raw, encoded, held)


async def _send(context: IngestContext, signal: _Signal, raw: RawBody, encoded: Encoded, held: Slot) -> Response:
    n = encoded.accepted
    try:
        await send_held(context, held, raw, encoded)
    except RecordRejected as exc:
        return _reject(signal, 413, error_body("batch too large for Kafka", [{"loc": signal.key, "msg": str(exc)}]), n)
    except KafkaUnavailable as exc:
        return _reject(
            signal,
            503,
            error_body(f"cannot accept {signal.noun} now: Kafka is unavailable", [{"loc": "kafka", "msg": str(exc)}]),
            n,
        )
    signal.count(True, n)
    return JSONResponse({"accepted": n}, status_code=202)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "invalid JSON, gzip, batch or Idempotency-Key: each offending field named",
    },
    413: {"model": ErrorBody, "description": "body too large (as sent or inflated), or a batch Kafka refuses"},
    415: {"model": ErrorBody, "description": "content type other than JSON, content encoding other than gzip or none"},
    409: {
        "model": ErrorBody,
        "description": "a request with this Idempotency-Key is in progress; retry after Retry-After",
        "headers": RETRY_AFTER_HEADER,
    },
    422: {"model": ErrorBody, "description": "this Idempotency-Key was used with another body"},
    503: {
        "model": ErrorBody,
        "description": "Kafka unavailable, ingest busy or its worker process ended; retry after Retry-After seconds",
        "headers": RETRY_AFTER_HEADER,
    },
}


@router.post(
    "/metrics",
    status_code=202,
    summary="Ingest a batch of metric points",
    response_model=Accepted,
    responses=_RESPONSES,
    openapi_extra=json_body(MetricsEnvelope, "Metric points of one service."),
)
async def ingest_metrics(request: Request) -> Response:
    """Body: ``{"service", "labels"?, "points": [{"name", "value", "ts", "kind"?, "labels"?}]}``."""
    return await _receive(request, _METRICS)


@router.post(
    "/spans",
    status_code=202,
    summary="Ingest a batch of spans",
    response_model=Accepted,
    responses=_RESPONSES,
    openapi_extra=json_body(SpansEnvelope, "Spans (the TraceSpan fields, plus status and kind)."),
)
async def ingest_spans(request: Request) -> Response:
    """Body: ``{"service", "spans": [{"traceId", "spanId", "parentSpanId"?, "serviceName"?, "operationName",
    "startTime", "endTime", "tags"?, "logs"?: [{"timestamp", "message", "level"}], "status"?, "kind"?}]}``;
    times in epoch ms (fractional allowed) or RFC 3339."""
    return await _receive(request, _SPANS)


@router.post(
    "/logs",
    status_code=202,
    summary="Ingest a batch of log records",
    response_model=Accepted,
    responses=_RESPONSES,
    openapi_extra=json_body(LogsEnvelope, "Log records of one service."),
)
async def ingest_logs(request: Request) -> Response:
    """Body: ``{"service", "logs": [{"ts"?, "level", "message", "attributes"?, "trace_id"?, "span_id"?}]}``."""
    return await _receive(request, _LOGS)
