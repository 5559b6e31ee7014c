"""OpenAPI declarations of the OTLP/HTTP routes: request bodies, answers and errors in both encodings.

A request's JSON schema is derived from the protobuf descriptor of its ``Export*ServiceRequest``,
following OTLP's JSON mapping (lowerCamelCase keys, enums as integers, trace and span ids as hex,
other bytes as base64, 64-bit integers as numbers or decimal strings): it always matches the
``opentelemetry-proto`` version installed, the one :func:`~ingest.receivers.otlp.common.decode_request`
reads. Answers are small, so they are pydantic models (components of the document).
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel, ConfigDict, Field

from ingest.receivers.openapi import RETRY_AFTER_HEADER, request_body

__all__ = [
    "ERROR_RESPONSES",
    "ExportLogsResponse",
    "ExportMetricsResponse",
    "ExportTraceResponse",
    "RpcStatus",
    "message_schema",
    "otlp_body",
    "otlp_success",
]

_BINARY: Final[dict[str, Any]] = {"schema": {"type": "string", "format": "binary"}}
_INT64: Final[dict[str, Any]] = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]+$"}]}
_SCALARS: Final[dict[int, dict[str, Any]]] = {
    FieldDescriptor.CPPTYPE_INT32: {"type": "integer"},
    FieldDescriptor.CPPTYPE_UINT32: {"type": "integer", "minimum": 0},
    FieldDescriptor.CPPTYPE_INT64: _INT64,
    FieldDescriptor.CPPTYPE_UINT64: _INT64,
    FieldDescriptor.CPPTYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.CPPTYPE_FLOAT: {"type": "number"},
    FieldDescriptor.CPPTYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.CPPTYPE_STRING: {"type": "string"},
}


def _field_schema(field: FieldDescriptor, path: tuple[str, ...]) -> dict[str, Any]:
    schema: dict[str, Any]
    message, enum = field.message_type, field.enum_type
    if message is not None:
        schema = message_schema(message, path)
    elif enum is not None:
        names = ", ".join(f"{value.number} {value.name}" for value in enum.values)
        schema = {"type": "integer", "description": f"{enum.name}: {names}"}
    elif field.type == FieldDescriptor.TYPE_BYTES:
        # OTLP's JSON writes ids (traceId, spanId, parentSpanId) as hex, other bytes as base64.
        hex_id = field.json_name.endswith("Id")
        schema = {"type": "string", "description": "hex" if hex_id else "base64"}
    else:
        schema = dict(_SCALARS[field.cpp_type])
    if field.containing_oneof is not None:
        oneof = f"at most one field of {field.containing_oneof.name!r} set"
        schema["description"] = f"{schema['description']}; {oneof}" if "description" in schema else oneof
    return {"type": "array", "items": schema} if field.is_repeated else schema


def message_schema(message: Descriptor, path: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON schema of ``message`` in OTLP's JSON mapping, every field optional (proto3), nested
    messages inline; a message inside itself (an ``AnyValue`` array of ``AnyValue``) is an object
    described by name, since inline schemas cannot refer back."""
    if message.full_name in path:
        return {"type": "object", "description": f"{message.name} (the message above)"}
    inner = (*path, message.full_name)
    return {
        "type": "object",
        "title": message.name,
        "properties": {field.json_name: _field_schema(field, inner) for field in message.fields},
    }


def otlp_body(request: Descriptor) -> dict[str, Any]:
    """The ``openapi_extra`` of a route reading an ``Export*ServiceRequest``, in either encoding."""
    return request_body(
        f"An {request.name} (opentelemetry-proto), binary protobuf or OTLP JSON.",
        {"application/x-protobuf": _BINARY, "application/json": {"schema": message_schema(request)}},
    )


class RpcStatus(BaseModel):
    """A ``google.rpc.Status`` without details: why the request was refused."""

    model_config = ConfigDict(extra="forbid")

    code: int = Field(description="google.rpc.Code: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE")
    message: str


class _PartialSuccess(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_message: str = Field(alias="errorMessage", description="why, with the first few reasons")


class TracePartialSuccess(_PartialSuccess):
    rejected_spans: str = Field(alias="rejectedSpans", description="int64 as a decimal string")


class MetricsPartialSuccess(_PartialSuccess):
    rejected_data_points: str = Field(alias="rejectedDataPoints", description="int64 as a decimal string")


class LogsPartialSuccess(_PartialSuccess):
    rejected_log_records: str = Field(alias="rejectedLogRecords", description="int64 as a decimal string")


class ExportTraceResponse(BaseModel):
    """``ExportTraceServiceResponse`` in OTLP JSON: ``{}``, or the count of spans rejected and why."""

    model_config = ConfigDict(extra="forbid")

    partial_success: TracePartialSuccess | None = Field(default=None, alias="partialSuccess")


class ExportMetricsResponse(BaseModel):
    """``ExportMetricsServiceResponse`` in OTLP JSON: ``{}``, or the count of points rejected and why."""

    model_config = ConfigDict(extra="forbid")

    partial_success: MetricsPartialSuccess | None = Field(default=None, alias="partialSuccess")


class ExportLogsResponse(BaseModel):
    """``ExportLogsServiceResponse`` in OTLP JSON: ``{}``, or the count of log records rejected and why."""

    model_config = ConfigDict(extra="forbid")

    partial_success: LogsPartialSuccess | None = Field(default=None, alias="partialSuccess")


def otlp_success(description: str) -> dict[str, Any]:
    """The 200 entry of ``responses``: ``response_model`` gives the JSON schema, this adds protobuf."""
    return {"description": description, "content": {"application/x-protobuf": _BINARY}}


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": RpcStatus, "description": description, "content": {"application/x-protobuf": _BINARY}, **extra}


# What the OTLP routes answer besides 200: a google.rpc.Status in the request's encoding.
ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: _error("malformed request, or a batch Kafka refuses; do not retry"),
    413: _error("body too large (as sent or inflated)"),
    415: _error("content type other than application/x-protobuf or application/json (answered in JSON)"),
    503: _error(
        "Kafka unavailable or no ingest slot free in time; nothing was written: retry after Retry-After seconds",
        headers=RETRY_AFTER_HEADER,
    ),
}
