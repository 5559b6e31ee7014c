"""What the OTLP/HTTP receivers share: request encodings, decoding, OTLP's response rules, attributes.

OTLP/HTTP (opentelemetry.io/docs/specs/otlp, "OTLP/HTTP") sends one ``Export*ServiceRequest`` per
POST, as binary protobuf (``application/x-protobuf``) or in OTLP's JSON mapping
(``application/json``: lowerCamelCase keys, trace and span ids as hex rather than base64, enums as
integers, 64-bit integers as numbers or strings), optionally gzipped. The response rules:

- success: 200 with an ``Export*ServiceResponse`` in the request's encoding; its ``partial_success``
  is set only when some items were rejected (their count and why);
- malformed request: 400 with a ``google.rpc.Status``; the client must not retry it;
- Kafka unavailable: 503 with ``Retry-After`` (a client retries 429, 502, 503 and 504).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeVar

import orjson
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from schemas.attributes import attribute_text

__all__ = [
    "JSON",
    "PROTOBUF",
    "Encoding",
    "OtlpError",
    "Rejections",
    "any_value",
    "attributes_of",
    "decode_request",
    "encode_response",
    "encode_status",
    "hex_id",
    "request_encoding",
    "service_of",
    "status_response",
]

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
UNKNOWN_SERVICE: Final = "unknown_service"  # OpenTelemetry's name for a resource without service.name
_ID_KEYS: Final = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_MAX_REASONS: Final = 5  # reasons quoted in a partial_success message

M = TypeVar("M", bound=Message)


class Encoding(StrEnum):
    PROTOBUF = PROTOBUF
    JSON = JSON


class OtlpError(Exception):
    """A request answered with an error ``status`` and a ``google.rpc.Status`` saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def request_encoding(content_type: str | None) -> Encoding:
    """The encoding a ``Content-Type`` names (parameters ignored); 415 for any other."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == PROTOBUF:
        return Encoding.PROTOBUF
    if media == JSON:
        return Encoding.JSON
    raise OtlpError(415, f"cannot read content type {content_type!r}: use {PROTOBUF} or {JSON}")


def decode_request(body: bytes, encoding: Encoding, message: M) -> M:
    """Fill ``message`` from ``body``; :class:`OtlpError` 400 when it is not a valid request."""
    if encoding is Encoding.PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise OtlpError(400, f"cannot decode protobuf request: {exc}") from None
        return message
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpError(400, f"cannot decode JSON request: {exc}") from None
    if not isinstance(document, dict):
        raise OtlpError(400, "cannot decode JSON request: expected an object")
    try:
        json_format.ParseDict(_ids_to_base64(document), message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise OtlpError(400, f"cannot decode JSON request: {exc}") from None
    return message


def _ids_to_base64(node: Any) -> Any:
    """OTLP's JSON writes trace and span ids as hex; protobuf's JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise OtlpError(400, f"cannot decode JSON request: {key} {value[:64]!r} is not hex") from None
            elif isinstance(value, dict | list):
                _ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _ids_to_base64(item)
    return node


def encode_response(message: Message, encoding: Encoding, status: int = 200) -> Response:
    """``message`` in the request's encoding."""
    if encoding is Encoding.PROTOBUF:
        return Response(message.SerializeToString(), status_code=status, media_type=PROTOBUF)
    return Response(orjson.dumps(json_format.MessageToDict(message)), status_code=status, media_type=JSON)


# gRPC status codes (google.rpc.Code) of our HTTP answers.
_GRPC_CODES: Final = {400: 3, 413: 3, 415: 3, 429: 8, 503: 14}  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE
_GRPC_UNKNOWN: Final = 2


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_status(code: int, message: str, encoding: Encoding) -> bytes:
    """A ``google.rpc.Status`` (``int32 code = 1; string message = 2``; no details), encoded by hand:
    two fields do not justify a dependency whose stubs mypy cannot see."""
    if encoding is Encoding.JSON:
        return orjson.dumps({"code": code, "message": message})
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def status_response(status: int, message: str, encoding: Encoding, retry_after_s: int | None = None) -> Response:
    """An OTLP error answer: ``status`` with a ``google.rpc.Status`` body (and ``Retry-After``)."""
    body = encode_status(_GRPC_CODES.get(status, _GRPC_UNKNOWN), message, encoding)
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return Response(body, status_code=status, media_type=encoding.value, headers=headers)


@dataclass
class Rejections:
    """Items rejected one by one (reported as ``partial_success``), with the first few reasons."""

    count: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: str, n: int = 1) -> None:
        self.count += n
        if len(self.reasons) < _MAX_REASONS:
            self.reasons.append(reason)

    def message(self) -> str:
        more = self.count - len(self.reasons)
        return "; ".join(self.reasons) + (f"; and {more} more" if more > 0 else "")


def hex_id(raw: bytes) -> str | None:
    """An id as lowercase hex; None for the empty (absent) id."""
    return binascii.hexlify(raw).decode() if raw else None


def any_value(value: AnyValue) -> object:
    """A Python value of an OTLP ``AnyValue`` (arrays and key-value lists nested; bytes as base64)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def attributes_of(attributes: Any) -> dict[str, str]:
    """OTLP attributes (a repeated ``KeyValue``) as text, the way every ingest path stores them; a
    repeated key keeps its last value."""
    # One comprehension: a string value costs one field read, any other a oneof lookup as well.
    return {
        kv.key: text
        if (text := (value := kv.value).string_value) or value.WhichOneof("value") == "string_value"
        else attribute_text(any_value(value))
        for kv in attributes
    }


def service_of(resource: Resource) -> str:
    """The resource's ``service.name``, or ``unknown_service`` as OpenTelemetry names a resource without one."""
    for kv in resource.attributes:
        if kv.key == "service.name":
            name = kv.value.string_value
            return name if name else UNKNOWN_SERVICE
    return UNKNOWN_SERVICE
