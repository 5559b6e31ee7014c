"""The OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs`` -> Kafka.

Served by the API app (its router is included there) and, optionally, on OTLP's own port 4318 by
the app of :func:`create_otlp_app`. Both read ``app.state.ingest`` (an
:class:`~ingest.receivers.http.IngestContext`), so one context — one producer, one redactor, one cumulative
memory — serves both. Answers follow OTLP's rules (:mod:`ingest.receivers.otlp.common`): 200 once Kafka
acknowledged everything accepted (``partial_success`` counting what was rejected), 400 for a
malformed request, 503 with ``Retry-After`` when Kafka is unavailable or every ingest slot is taken;
nothing of a request answered 4xx or 503 is written. Decoding, conversion, redaction and batching run
on the ingest threads (:mod:`ingest.receivers.offload`), never on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from ingest.receivers import metrics
from ingest.receivers.http import RETRY_AFTER_S, BodyError, IngestContext, RawBody, inflate, read_body
from ingest.receivers.offload import Busy
from ingest.receivers.otlp.common import (
    Encoding,
    OtlpError,
    Rejections,
    decode_request,
    encode_response,
    request_encoding,
    status_response,
)
from ingest.receivers.otlp.logs import convert_logs
from ingest.receivers.otlp.metrics import convert_metrics
from ingest.receivers.otlp.openapi import (
    ERROR_RESPONSES,
    ExportLogsResponse,
    ExportMetricsResponse,
    ExportTraceResponse,
    otlp_body,
    otlp_success,
)
from ingest.receivers.otlp.traces import convert_traces
from schemas.limits import Limits
from schemas.log_envelope import pack_logs
from schemas.redact import Redactor
from schemas.span_envelope import pack_spans

__all__ = ["create_otlp_app", "router"]

router = APIRouter(prefix="/v1", tags=["otlp"])

_RESPONSES = {
    200: otlp_success("accepted (partialSuccess counts rejected items); in the request's encoding"),
    **ERROR_RESPONSES,
}


M = TypeVar("M", bound=Message)


class _Refused(Exception):
    """The request is answered with ``response``: an OTLP error."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refuse(status: int, message: str, encoding: Encoding, retry: bool = False) -> _Refused:
    """A refusal with ``status`` (counted), and ``Retry-After`` when the client should ``retry``."""
    metrics.REQUESTS_REJECTED.labels("otlp", str(status)).inc()
    return _Refused(status_response(status, message, encoding, RETRY_AFTER_S if retry else None))


@asynccontextmanager
async def _slot(request: Request) -> AsyncIterator[IngestContext]:
    """The ingest context, with one of its slots held until the request is answered (503 when none
    is free: refused before the body is read)."""
    context: IngestContext = request.app.state.ingest
    try:
        async with context.workers.slot():
            yield context
    except Busy as exc:
        try:
            encoding = request_encoding(request.headers.get("content-type"))
        except OtlpError:
            encoding = Encoding.JSON
        raise _refuse(503, f"cannot accept data now: {exc}", encoding, retry=True) from None


def _decode(raw: RawBody, encoding: Encoding, message: M, limit: int) -> M:
    """``message`` filled from the body (inflated first): CPU work, run on the ingest threads."""
    return decode_request(inflate(raw, limit), encoding, message)


async def _read(request: Request, context: IngestContext, message: M) -> tuple[Encoding, M]:
    """The request's encoding, and ``message`` filled from its body (off the event loop)."""
    try:
        encoding = request_encoding(request.headers.get("content-type"))
    except OtlpError as exc:
        raise _refuse(exc.status, exc.message, Encoding.JSON) from None  # the client's encoding is unknown
    limit = context.limits.max_body_bytes
    try:
        raw = await read_body(request, limit)
        return encoding, await context.workers.run(_decode, raw, encoding, message, limit)
    except BodyError as exc:
        raise _refuse(exc.status, f"{exc.error}: {exc.msg}", encoding) from None
    except OtlpError as exc:
        raise _refuse(exc.status, exc.message, encoding) from None


def _kafka_failed(exc: Exception, encoding: Encoding) -> _Refused:
    if isinstance(exc, RecordRejected):
        return _refuse(400, f"cannot store the request: {exc}", encoding)
    return _refuse(503, f"cannot accept data now: Kafka is unavailable ({exc})", encoding, retry=True)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@router.post(
    "/traces",
    summary="OTLP/HTTP trace export",
    response_model=ExportTraceResponse,
    responses=_RESPONSES,
    openapi_extra=otlp_body(ExportTraceServiceRequest.DESCRIPTOR),
)
async def export_traces(request: Request) -> Response:
    """An ``ExportTraceServiceRequest`` (protobuf or OTLP JSON, gzip allowed)."""
    send = RecordProducer.send_spans
    return await _export(
        request, ExportTraceServiceRequest(), _span_batches, send, "spans", ExportTraceServiceResponse()
    )


@router.post(
    "/logs",
    summary="OTLP/HTTP log export",
    response_model=ExportLogsResponse,
    responses=_RESPONSES,
    openapi_extra=otlp_body(ExportLogsServiceRequest.DESCRIPTOR),
)
async def export_logs(request: Request) -> Response:
    """An ``ExportLogsServiceRequest`` (protobuf or OTLP JSON, gzip allowed)."""
    send = RecordProducer.send_logs
    return await _export(request, ExportLogsServiceRequest(), _log_batches, send, "logs", ExportLogsServiceResponse())


Batches = tuple[list[Any], int, Rejections]  # Kafka batches, items accepted, items rejected


def _span_batches(message: ExportTraceServiceRequest, now_ms: int, limits: Limits, redactor: Redactor) -> Batches:
    converted = convert_traces(message, now_ms, limits, redactor)
    return pack_spans(converted.spans, limits), len(converted.spans), converted.rejected


def _log_batches(message: ExportLogsServiceRequest, now_ms: int, limits: Limits, redactor: Redactor) -> Batches:
    converted = convert_logs(message, now_ms, limits, redactor)
    return pack_logs(converted.records, limits), len(converted.records), converted.rejected


async def _export(
    request: Request,
    message: M,
    to_batches: Callable[[M, int, Limits, Redactor], Batches],
    send: Callable[[RecordProducer, list[Any]], Awaitable[None]],
    kind: str,
    response: Message,
) -> Response:
    """Spans or log records (``kind``): read and convert off the event loop, send, answer."""
    try:
        async with _slot(request) as context:
            encoding, decoded = await _read(request, context, message)
            batches, accepted, rejected = await context.workers.run(
                to_batches, decoded, _now_ms(), context.limits, context.redactor
            )
            await _send(send(context.producer, batches), kind, accepted, rejected, encoding)
    except _Refused as refused:
        return refused.response
    count_field = "rejected_spans" if kind == "spans" else "rejected_log_records"
    return _accepted(response, count_field, kind, accepted, rejected, encoding)


async def _send(sending: Awaitable[None], kind: str, accepted: int, rejected: Rejections, encoding: Encoding) -> None:
    """Await Kafka's acknowledgement of ``accepted`` spans or log records (``kind``); refused
    (counting every item of the request as rejected) when Kafka is unavailable or refuses."""
    try:
        await sending
    except (KafkaUnavailable, RecordRejected) as exc:
        metrics.RECORDS_REJECTED.labels("otlp", kind).inc(accepted + rejected.count)
        raise _kafka_failed(exc, encoding) from None


def _accepted(
    response: Message, count_field: str, kind: str, accepted: int, rejected: Rejections, encoding: Encoding
) -> Response:
    """The 200 answer once Kafka acknowledged: ``partial_success`` (its ``count_field`` and message)
    set only when items were rejected, as OTLP asks."""
    metrics.RECORDS_ACCEPTED.labels("otlp", kind).inc(accepted)
    if rejected.count:
        metrics.RECORDS_REJECTED.labels("otlp", kind).inc(rejected.count)
        partial = response.partial_success  # type: ignore[attr-defined]
        setattr(partial, count_field, rejected.count)
        partial.error_message = rejected.message()
    return encode_response(response, encoding)


@router.post(
    "/metrics",
    summary="OTLP/HTTP metrics export",
    response_model=ExportMetricsResponse,
    responses=_RESPONSES,
    openapi_extra=otlp_body(ExportMetricsServiceRequest.DESCRIPTOR),
)
async def export_metrics(request: Request) -> Response:
    """An ``ExportMetricsServiceRequest`` (protobuf or OTLP JSON, gzip allowed). Requests are
    converted and sent one at a time: cumulative totals are committed only once Kafka acknowledged."""
    try:
        async with _slot(request) as context:
            encoding, message = await _read(request, context, ExportMetricsServiceRequest())
            cumulative = context.cumulative
            async with cumulative.lock:  # one conversion at a time: it reads and stages the totals
                committed = False
                try:
                    now = _now_ms()
                    converted = await context.workers.run(convert_metrics, message, now, context.limits, cumulative)
                    try:
                        await context.producer.send_metrics(converted.batches)
                    except (KafkaUnavailable, RecordRejected) as exc:
                        metrics.POINTS_REJECTED.labels("otlp").inc(converted.points)
                        raise _kafka_failed(exc, encoding) from None
                    cumulative.commit()
                    committed = True
                finally:
                    if not committed:
                        cumulative.discard()
    except _Refused as refused:
        return refused.response
    metrics.POINTS_ACCEPTED.labels("otlp").inc(converted.points)
    response = ExportMetricsServiceResponse()
    if converted.rejected.count:
        metrics.POINTS_REJECTED.labels("otlp").inc(converted.rejected.count)
        response.partial_success.rejected_data_points = converted.rejected.count
        response.partial_success.error_message = converted.rejected.message()
    return encode_response(response, encoding)


def create_otlp_app(context: IngestContext, *, stop_producer: bool = False) -> FastAPI:
    """An app serving only the OTLP receiver (for OTLP's own port, 4318) on ``context``.

    The context is typically the API app's (``app.state.ingest``, set in its lifespan): then the API
    app owns the producer. ``stop_producer``: stop ``context.producer`` when this app shuts down (for
    a process that runs the OTLP app alone; the producer starts by itself on first use).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if stop_producer:
                await context.producer.stop()

    app = FastAPI(
        title="perfpulse OTLP receiver",
        version="0.1.0",
        summary="OTLP/HTTP traces, metrics and logs, protobuf or JSON, into perfpulse.",
        lifespan=lifespan,
    )
    app.state.ingest = context
    app.include_router(router)
    return app
