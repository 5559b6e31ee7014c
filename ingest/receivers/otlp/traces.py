"""OTLP traces -> perfpulse spans.

- service: the resource's ``service.name``; a few identifying resource attributes (``_RESOURCE_TAGS``)
  become tags too, the rest of the resource is not stored.
- ids: bytes -> lowercase hex; an empty parent span id makes a root span.
- name -> operation; kind: unspecified and internal -> internal, server, client, producer,
  consumer; status code unset/ok/error -> unset/ok/error, with its message.
- attributes -> tags (values as text); events -> span logs: the event name is the message (for an
  ``exception`` event: "<exception.type>: <exception.message>", level error), the attributes kept;
  a ``level``/``log.level`` attribute sets the level, else info. Links are not stored.

A span that fails the checks every ingest path applies (:func:`~schemas.span_envelope.check_span_fields`,
run per batch by :func:`~schemas.span_envelope.check_spans`) is rejected alone and counted in
``partial_success``; the others are redacted and stored.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Final

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan

from ingest.receivers.otlp.common import Rejections, attributes_of, service_of
from schemas import Limits, Redactor, Span, SpanEvent, SpanKind, SpanStatus
from schemas.log_envelope import parse_level
from schemas.span_envelope import check_spans, redact_spans

__all__ = ["ConvertedSpans", "convert_traces"]

_KINDS: Final = {
    OtlpSpan.SPAN_KIND_UNSPECIFIED: SpanKind.INTERNAL,
    OtlpSpan.SPAN_KIND_INTERNAL: SpanKind.INTERNAL,
    OtlpSpan.SPAN_KIND_SERVER: SpanKind.SERVER,
    OtlpSpan.SPAN_KIND_CLIENT: SpanKind.CLIENT,
    OtlpSpan.SPAN_KIND_PRODUCER: SpanKind.PRODUCER,
    OtlpSpan.SPAN_KIND_CONSUMER: SpanKind.CONSUMER,
}
_STATUSES: Final = [SpanStatus.UNSET, SpanStatus.OK, SpanStatus.ERROR]  # by Status.StatusCode value
# Resource attributes worth a tag on every span: they tell instances and deployments apart.
_RESOURCE_TAGS: Final = (
    "service.version",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "host.name",
    "k8s.pod.name",
)


@dataclass
class ConvertedSpans:
    spans: list[Span] = field(default_factory=list)
    rejected: Rejections = field(default_factory=Rejections)


def convert_traces(
    request: ExportTraceServiceRequest, now_ms: int, limits: Limits, redactor: Redactor
) -> ConvertedSpans:
    """The acceptable spans of ``request``, redacted, and the rejected ones counted with reasons.

    The spans are checked and redacted as one batch (:func:`~schemas.span_envelope.check_spans`,
    :func:`~schemas.span_envelope.redact_spans`): per span, only the fields are read."""
    spans: list[Span] = []
    scopes: list[tuple[int, int, int]] = []  # (resource, scope, index of its first span), to name a rejected span
    for r, resource_spans in enumerate(request.resource_spans):
        resource = resource_spans.resource
        service = service_of(resource)
        resource_tags = {k: v for k, v in attributes_of(resource.attributes).items() if k in _RESOURCE_TAGS}
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scopes.append((r, s, len(spans)))
            spans.extend([_span(otlp, service, resource_tags) for otlp in scope_spans.spans])
    out = ConvertedSpans()
    problems = check_spans(spans, now_ms, limits)
    firsts = [first for _, _, first in scopes]
    for index, (field_name, reason) in problems:
        r, s, first = scopes[bisect_right(firsts, index) - 1]  # the last scope starting at or before it
        i = index - first
        out.rejected.add(
            f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]{'.' + field_name if field_name else ''}: {reason}"
        )
    if problems:
        rejected = {index for index, _ in problems}
        spans = [span for index, span in enumerate(spans) if index not in rejected]
    out.spans = redact_spans(spans, redactor)
    return out


def _span(otlp: OtlpSpan, service: str, resource_tags: dict[str, str]) -> Span:
    tags = attributes_of(otlp.attributes)
    if resource_tags:
        tags = {**resource_tags, **tags}
    status = otlp.status
    code = status.code
    parent = otlp.parent_span_id
    return Span(
        otlp.trace_id.hex(),
        otlp.span_id.hex(),
        parent.hex() if parent else None,
        service,
        otlp.name,
        otlp.start_time_unix_nano,
        otlp.end_time_unix_nano,
        _KINDS.get(otlp.kind, SpanKind.INTERNAL),
        _STATUSES[code] if 0 <= code < len(_STATUSES) else SpanStatus.UNSET,
        status.message,
        tags,
        [_event(e) for e in otlp.events] if otlp.events else [],
    )


def _event(event: OtlpSpan.Event) -> SpanEvent:
    attributes = attributes_of(event.attributes)
    message, level = event.name, "info"
    if event.name == "exception":
        kind, text = attributes.get("exception.type", ""), attributes.get("exception.message", "")
        message = f"{kind}: {text}" if kind and text else (kind or text or "exception")
        level = "error"
    named = attributes.get("level") or attributes.get("log.level")
    if named:
        with contextlib.suppress(ValueError):  # an unknown level name: keep the default
            level = parse_level(named).value
    return SpanEvent(event.time_unix_nano, message, level, attributes)
