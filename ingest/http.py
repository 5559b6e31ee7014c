"""HTTP receiver: ``POST /api/v1/ingest/metrics`` -> Kafka.

Answers 202 only after Kafka acknowledged every record of the request (nothing accepted is lost);
400 with field-level reasons for bad input, 413 for an oversized body, 503 with Retry-After when
Kafka cannot take the batch. A rejected request writes nothing.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ingest import metrics
from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from schemas import EnvelopeError, Limits, error_body, parse_metrics_envelope

__all__ = ["IngestContext", "read_body", "router"]

RETRY_AFTER_S = 5

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])


@dataclass
class IngestContext:
    """What the receivers need, set on ``app.state.ingest`` by the composition root."""

    producer: RecordProducer
    limits: Limits


class BodyError(Exception):
    def __init__(self, status: int, error: str, msg: str) -> None:
        super().__init__(error)
        self.response = JSONResponse(error_body(error, [{"loc": "body", "msg": msg}]), status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped if ``Content-Encoding: gzip``; :class:`BodyError` past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, "request body too large", f"{declared} bytes, the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, "request body too large", f"more than {limit} bytes, the limit is {limit}")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        body = _gunzip(body, limit)
    elif encoding != "identity":
        raise BodyError(415, "unsupported content encoding", f"{encoding!r}: use gzip or none")
    return body


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data`` (concatenated members are valid gzip), never more than
    ``limit`` bytes in all: a small bomb is refused without being inflated."""
    out: list[bytes] = []
    size = 0
    try:
        while data:
            member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = member.decompress(data, limit + 1 - size)
            size += len(chunk)
            if size > limit or member.unconsumed_tail:
                raise BodyError(413, "request body too large", f"more than {limit} bytes once decompressed")
            if not member.eof:
                raise BodyError(400, "invalid gzip body", "the gzip stream is truncated")
            out.append(chunk)
            data = member.unused_data
    except zlib.error as exc:
        raise BodyError(400, "invalid gzip body", str(exc)) from None
    return b"".join(out)


def _reject(status: int, body: dict[str, Any], points: int) -> JSONResponse:
    metrics.REQUESTS_REJECTED.labels("http", str(status)).inc()
    metrics.POINTS_REJECTED.labels("http").inc(points)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


@router.post(
    "/metrics",
    status_code=202,
    summary="Ingest a batch of metric points",
    responses={
        400: {"description": "invalid batch"},
        413: {"description": "body too large"},
        503: {"description": "Kafka unavailable; retry after Retry-After seconds"},
    },
)
async def ingest_metrics(request: Request) -> Response:
    """Body: ``{"service", "labels"?, "points": [{"name", "value", "ts", "kind"?, "labels"?}]}``."""
    context: IngestContext = request.app.state.ingest
    try:
        raw = await read_body(request, context.limits.max_body_bytes)
    except BodyError as exc:
        metrics.REQUESTS_REJECTED.labels("http", str(exc.response.status_code)).inc()
        return exc.response
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _reject(400, error_body("invalid JSON", [{"loc": "body", "msg": str(exc)}]), 0)
    points = len(body["points"]) if isinstance(body, dict) and isinstance(body.get("points"), list) else 0
    try:
        batches = parse_metrics_envelope(body, time.time_ns() // 1_000_000, context.limits)
    except EnvelopeError as exc:
        return _reject(400, error_body(str(exc), [d.as_dict() for d in exc.details]), points)
    try:
        await context.producer.send_metrics(batches)
    except RecordRejected as exc:
        return _reject(413, error_body("batch too large for Kafka", [{"loc": "points", "msg": str(exc)}]), points)
    except KafkaUnavailable as exc:
        return _reject(
            503,
            error_body("cannot accept points now: Kafka is unavailable", [{"loc": "kafka", "msg": str(exc)}]),
            points,
        )
    metrics.POINTS_ACCEPTED.labels("http").inc(points)
    return JSONResponse({"accepted": points}, status_code=202)
