"""The OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs`` -> Kafka.

Served by the API app (its router is included there) and, optionally, on OTLP's own port 4318 by
the app of :func:`create_otlp_app`. Both read ``app.state.ingest`` (an
:class:`~ingest.receivers.http.IngestContext`), so one context — one producer, one redactor, one cumulative
memory — serves both. Answers follow OTLP's rules (:mod:`ingest.receivers.otlp.common`): 200 once Kafka
acknowledged everything accepted (``partial_success`` counting what was rejected), 400 for a
malformed request, 503 with ``Retry-After`` when Kafka is unavailable or no ingest slot is free in time;
nothing of a request answered 4xx or 503 is written (its records are sent in one Kafka transaction).
An ``Idempotency-Key`` header is honoured as on the perfpulse endpoints
(:mod:`ingest.receivers.idempotency`; its own refusals, 400, 409 and 422, are JSON error bodies).
Decoding, conversion, redaction, batching and encoding run in the ingest workers
(:mod:`ingest.receivers.offload`: processes for large bodies; metrics in the cumulative worker
process), never on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

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

from ingest.producer import KafkaUnavailable, RecordRejected
from ingest.receivers import metrics
from ingest.receivers.encode import Encoded, Refusal
from ingest.receivers.http import RETRY_AFTER_S, BodyError, IngestContext, read_body, send_held
from ingest.receivers.inflate import RawBody
from ingest.receivers.offload import Busy, Slot, WorkerDied
from ingest.receivers.otlp.common import Encoding, OtlpError, encode_response, request_encoding, status_response
from ingest.receivers.otlp.encode import metric_records, signal_records
from ingest.receivers.otlp.openapi import (
    ERROR_RESPONSES,
    ExportLogsResponse,
    ExportMetricsResponse,
    ExportTraceResponse,
    otlp_body,
    otlp_success,
)
from ingest.receivers.spool import encoded_by, spooled
from schemas import RecordType

__all__ = ["create_otlp_app", "router"]

router = APIRouter(prefix="/v1", tags=["otlp"])

_RESPONSES = {
    200: otlp_success("accepted (partialSuccess counts rejected items); in the request's encoding"),
    **ERROR_RESPONSES,
}


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
async def _slot(request: Request) -> AsyncIterator[tuple[IngestContext, Slot]]:
    """The ingest context, with one of its slots held until the request is answered or its records
    are made (503 when none is free: refused before the body is read; or when its records find no
    room to wait for Kafka)."""
    context: IngestContext = request.app.state.ingest
    try:
        async with context.workers.slot() as held:
            yield context, held
    except Busy as exc:
        try:
            encoding = request_encoding(request.headers.get("content-type"))
        except OtlpError:
            encoding = Encoding.JSON
        raise _refuse(503, f"cannot accept data now: {exc}", encoding, retry=True) from None


async def _read(request: Request, context: IngestContext) -> tuple[Encoding, RawBody]:
    """The request's encoding (415 for another content type) and its body as sent."""
    try:
        encoding = request_encoding(request.headers.get("content-type"))
    except OtlpError as exc:
        raise _refuse(exc.status, exc.message, Encoding.JSON) from None  # the client's encoding is unknown
    try:
        return encoding, await read_body(request, context.limits.max_body_bytes)
    except BodyError as exc:
        raise _refuse(exc.status, f"{exc.error}: {exc.msg}", encoding) from None


async def _worked(work: Awaitable[Encoded | Refusal], encoding: Encoding) -> Encoded:
    """What the ingest workers made of the body; refused with its status when it cannot be read,
    503 when the worker process holding it ended."""
    try:
        encoded = await work
    except WorkerDied as exc:
        raise _refuse(503, f"cannot accept data now: {exc}", encoding, retry=True) from None
    if isinstance(encoded, Refusal):
        raise _refuse(encoded.status, encoded.message(), encoding)
    return encoded


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
    return await _export(request, RecordType.SPANS, ExportTraceServiceResponse())


@router.post(
    "/logs",
    summary="OTLP/HTTP log export",
    response_model=ExportLogsResponse,
    responses=_RESPONSES,
    openapi_extra=otlp_body(ExportLogsServiceRequest.DESCRIPTOR),
)
async def export_logs(request: Request) -> Response:
    """An ``ExportLogsServiceRequest`` (protobuf or OTLP JSON, gzip allowed)."""
    return await _export(request, RecordType.LOGS, ExportLogsServiceResponse())


async def _export(request: Request, kind: RecordType, response: Message) -> Response:
    """Spans or log records (``kind``): read, convert in the ingest workers, send, answer."""
    try:
        async with _slot(request) as (context, held):
            encoding, raw = await _read(request, context)
            return await context.idempotency.answer(
                request, raw, lambda: _export_body(context, held, kind, encoding, raw, response)
            )
    except _Refused as refused:
        return refused.response


async def _export_body(
    context: IngestContext, held: Slot, kind: RecordType, encoding: Encoding, raw: RawBody, response: Message
) -> Response:
    """Convert ``raw`` in the ingest workers, send it, answer (a refusal as its response)."""
    signal = kind.value
    try:
        work = encoded_by(
            context.workers, signal_records, raw, kind, encoding, _now_ms(), context.limits, context.redactor
        )
        encoded = await _worked(work, encoding)
        try:
            await send_held(context, held, raw, encoded)
        except (KafkaUnavailable, RecordRejected) as exc:
            metrics.RECORDS_REJECTED.labels("otlp", signal).inc(encoded.accepted + encoded.rejected)
            raise _kafka_failed(exc, encoding) from None
    except _Refused as refused:
        return refused.response
    metrics.RECORDS_ACCEPTED.labels("otlp", signal).inc(encoded.accepted)
    if encoded.rejected:
        metrics.RECORDS_REJECTED.labels("otlp", signal).inc(encoded.rejected)
        partial = response.partial_success  # type: ignore[attr-defined]
        setattr(partial, "rejected_spans" if kind is RecordType.SPANS else "rejected_log_records", encoded.rejected)
        partial.error_message = encoded.reason
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
    converted and sent one at a time, in the cumulative worker process whatever their size: it
    holds the cumulative totals, committed only once Kafka acknowledged."""
    try:
        async with _slot(request) as (context, held):
            encoding, raw = await _read(request, context)
            return await context.idempotency.answer(
                request, raw, lambda: _export_metrics_body(context, held, encoding, raw)
            )
    except _Refused as refused:
        return refused.response


async def _export_metrics_body(context: IngestContext, held: Slot, encoding: Encoding, raw: RawBody) -> Response:
    """Convert ``raw`` in the cumulative worker, send it, commit the totals, answer (a refusal as
    its response)."""
    try:
        cumulative = context.cumulative
        async with cumulative.lock:  # one conversion at a time: it reads and stages the totals
            work = spooled(cumulative.run, metric_records, raw, encoding, _now_ms(), context.limits)
            converted = await _worked(work, encoding)
            try:
                await send_held(context, held, raw, converted)
            except (KafkaUnavailable, RecordRejected) as exc:
                metrics.POINTS_REJECTED.labels("otlp").inc(converted.accepted)
                raise _kafka_failed(exc, encoding) from None
            await cumulative.commit()
    except _Refused as refused:
        return refused.response
    metrics.POINTS_ACCEPTED.labels("otlp").inc(converted.accepted)
    response = ExportMetricsServiceResponse()
    if converted.rejected:
        metrics.POINTS_REJECTED.labels("otlp").inc(converted.rejected)
        response.partial_success.rejected_data_points = converted.rejected
        response.partial_success.error_message = converted.reason
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
