"""HTTP receiver: ``POST /api/v1/ingest/metrics``, ``/spans`` and ``/logs`` -> Kafka.

Answers 202 ``{"accepted": n}`` only after Kafka acknowledged every record of the request (nothing
accepted is lost); 400 with field-level reasons for bad input, 413 for an oversized body, 415 for an
unknown content encoding, 503 with Retry-After when Kafka cannot take the batch or every ingest slot
is taken. A rejected request writes nothing. Span tags, span logs and log records are redacted
(:attr:`IngestContext.redactor`) before they leave for Kafka. Inflating, parsing, redaction and
batching run on the ingest threads (:mod:`ingest.receivers.offload`), never on the event loop.
:func:`read_body` and :func:`inflate` are the one body-reading path, the OTLP receiver's too.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from ingest.receivers import metrics
from ingest.receivers.cumulative import CumulativeDeltas
from ingest.receivers.offload import BUSY_RETRY_AFTER_S, Busy, IngestWorkers
from ingest.receivers.openapi import RETRY_AFTER_HEADER, Accepted, json_body
from schemas import EnvelopeError, Limits, MetricsEnvelope, Redactor, error_body, parse_metrics_envelope
from schemas.errors import ErrorBody
from schemas.log_envelope import LogsEnvelope, parse_logs_envelope
from schemas.span_envelope import SpansEnvelope, parse_spans_envelope

__all__ = ["RETRY_AFTER_S", "BodyError", "IngestContext", "RawBody", "inflate", "read_body", "router"]

RETRY_AFTER_S = 5

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])


@dataclass
class IngestContext:
    """What the receivers need, set on ``app.state.ingest`` by the composition root. One context may
    serve several apps (the API app and the OTLP app on its own port) in one process."""

    producer: RecordProducer
    limits: Limits
    redactor: Redactor = field(default_factory=Redactor)  # applied to spans and logs before Kafka
    # Last totals of cumulative OTLP sums and histograms, per series (this process only).
    cumulative: CumulativeDeltas = field(default_factory=CumulativeDeltas)
    workers: IngestWorkers = field(default_factory=IngestWorkers)  # where bodies are parsed, how many at once


class BodyError(Exception):
    """A request body that cannot be read: ``status``, a sentence (``error``) and the reason (``msg``)."""

    def __init__(self, status: int, error: str, msg: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.msg = msg
        self.response = JSONResponse(error_body(error, [{"loc": "body", "msg": msg}]), status_code=status)


@dataclass(frozen=True, slots=True)
class RawBody:
    """A request body as sent: ``gzip`` when it still needs :func:`inflate` (off the event loop)."""

    data: bytes
    gzip: bool


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
    return RawBody(b"".join(chunks), encoding == "gzip")


def inflate(body: RawBody, limit: int) -> bytes:
    """The body's bytes, gunzipped when sent gzipped (CPU work: call it off the event loop)."""
    return _gunzip(body.data, limit) if body.gzip else body.data


GZIP_PIECE = 64 * 1024  # compressed bytes fed to zlib at a time
MAX_GZIP_MEMBERS = 1_024  # bgzip-style streams of 64 KiB blocks take 256 for 16 MiB


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data`` (concatenated members are valid gzip), never more than
    ``limit`` bytes in all: a small bomb is refused without being inflated.

    Work is linear in ``len(data)`` plus the output: input goes to zlib in pieces of
    :data:`GZIP_PIECE`, so what a member leaves over (copied by zlib as ``unused_data``, then fed to
    the next member) is at most one piece, and there are at most :data:`MAX_GZIP_MEMBERS` members.
    Feeding the whole rest to each member made a stream of many tiny members quadratic.
    """
    view = memoryview(data)
    out: list[bytes] = []
    size = pos = members = 0
    try:
        while pos < len(view):
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise BodyError(400, "invalid gzip body", f"more than {MAX_GZIP_MEMBERS} gzip members")
            member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not member.eof:
                if pos >= len(view):
                    raise BodyError(400, "invalid gzip body", "the gzip stream is truncated")
                piece = view[pos : pos + GZIP_PIECE]
                chunk = member.decompress(piece, limit + 1 - size)
                size += len(chunk)
                if size > limit or member.unconsumed_tail:
                    raise BodyError(413, "request body too large", f"more than {limit} bytes once decompressed")
                out.append(chunk)
                pos += len(piece) - len(member.unused_data)
    except zlib.error as exc:
        raise BodyError(400, "invalid gzip body", str(exc)) from None
    return b"".join(out)


@dataclass(frozen=True)
class _Signal:
    """How one envelope is parsed, sent and counted."""

    key: str  # the body's list: "points", "spans", "logs"
    noun: str  # what the list holds, for messages
    parse: Callable[[Any, int, IngestContext], list[Any]]  # (body, now_ms, context) -> Kafka batches
    send: Callable[[RecordProducer, list[Any]], Awaitable[None]]
    count: Callable[[bool, int], None]  # (accepted, n): the Prometheus counters


def _count_points(accepted: bool, n: int) -> None:
    (metrics.POINTS_ACCEPTED if accepted else metrics.POINTS_REJECTED).labels("http").inc(n)


def _count_records(signal: str) -> Callable[[bool, int], None]:
    def count(accepted: bool, n: int) -> None:
        (metrics.RECORDS_ACCEPTED if accepted else metrics.RECORDS_REJECTED).labels("http", signal).inc(n)

    return count


_METRICS = _Signal(
    "points",
    "points",
    lambda body, now_ms, ctx: parse_metrics_envelope(body, now_ms, ctx.limits),
    lambda producer, batches: producer.send_metrics(batches),
    _count_points,
)
_SPANS = _Signal(
    "spans",
    "spans",
    lambda body, now_ms, ctx: parse_spans_envelope(body, now_ms, ctx.limits, ctx.redactor),
    lambda producer, batches: producer.send_spans(batches),
    _count_records("spans"),
)
_LOGS = _Signal(
    "logs",
    "log records",
    lambda body, now_ms, ctx: parse_logs_envelope(body, now_ms, ctx.limits, ctx.redactor),
    lambda producer, batches: producer.send_logs(batches),
    _count_records("logs"),
)


def _reject(signal: _Signal, status: int, body: dict[str, Any], n: int) -> JSONResponse:
    metrics.REQUESTS_REJECTED.labels("http", str(status)).inc()
    signal.count(False, n)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


class _Refused(Exception):
    """A request body refused with ``status`` and ``body`` (an error body); ``n`` items counted."""

    def __init__(self, status: int, body: dict[str, Any], n: int = 0) -> None:
        super().__init__(status)
        self.status, self.body, self.n = status, body, n


def _parse(raw: RawBody, signal: _Signal, context: IngestContext, now_ms: int) -> tuple[list[Any], int]:
    """Inflate, decode, validate, redact and batch a body (CPU work, run off the event loop): the
    Kafka batches and the number of items; :class:`_Refused` for a body that cannot be stored."""
    try:
        body = orjson.loads(inflate(raw, context.limits.max_body_bytes))  # codec: the HTTP request body
    except BodyError as exc:
        raise _Refused(exc.status, error_body(exc.error, [{"loc": "body", "msg": exc.msg}])) from None
    except orjson.JSONDecodeError as exc:
        raise _Refused(400, error_body("invalid JSON", [{"loc": "body", "msg": str(exc)}])) from None
    items = body.get(signal.key) if isinstance(body, dict) else None
    n = len(items) if isinstance(items, list) else 0
    try:
        return signal.parse(body, now_ms, context), n
    except EnvelopeError as exc:
        raise _Refused(400, error_body(str(exc), [d.as_dict() for d in exc.details]), n) from None


async def _receive(request: Request, signal: _Signal) -> Response:
    """Read, validate, send and answer: the flow every envelope shares. The request holds an ingest
    slot throughout (503 when none is free); its CPU work runs on the ingest threads."""
    context: IngestContext = request.app.state.ingest
    content_type = request.headers.get("content-type")  # none: read as JSON
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        # text/plain, forms and the like are what a web page may send across sites without asking
        metrics.REQUESTS_REJECTED.labels("http", "415").inc()
        detail = [{"loc": "header.content-type", "msg": f"{content_type!r}: send application/json"}]
        return JSONResponse(error_body("unsupported content type", detail), status_code=415)
    try:
        async with context.workers.slot():
            try:
                raw = await read_body(request, context.limits.max_body_bytes)
            except BodyError as exc:
                metrics.REQUESTS_REJECTED.labels("http", str(exc.status)).inc()
                return exc.response
            batches, n = await context.workers.run(_parse, raw, signal, context, time.time_ns() // 1_000_000)
            return await _send(context, signal, batches, n)
    except Busy as exc:
        metrics.REQUESTS_REJECTED.labels("http", "503").inc()
        body = error_body(f"cannot accept {signal.noun} now: ingest is busy", [{"loc": "server", "msg": str(exc)}])
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(BUSY_RETRY_AFTER_S)})
    except _Refused as refused:
        return _reject(signal, refused.status, refused.body, refused.n)


async def _send(context: IngestContext, signal: _Signal, batches: list[Any], n: int) -> Response:
    try:
        await signal.send(context.producer, batches)
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
    400: {"model": ErrorBody, "description": "invalid JSON, gzip or batch: every offending field named in details"},
    413: {"model": ErrorBody, "description": "body too large (as sent or inflated), or a batch Kafka refuses"},
    415: {"model": ErrorBody, "description": "content type other than JSON, content encoding other than gzip or none"},
    503: {
        "model": ErrorBody,
        "description": "Kafka unavailable or ingest busy; nothing was written: retry after Retry-After seconds",
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
