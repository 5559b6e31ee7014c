"""W3C trace context over HTTP: the ``traceparent`` (and ``tracestate``) headers that carry a trace from
one service to the next.

The caller writes the current span's context into its outgoing request with :func:`inject`; the
callee reads it with :func:`extract` and continues the trace with ``emitter.span(..., parent=ctx)``
or ``with continue_trace(request.headers):``. A missing or malformed header gives no context (a new
trace starts), as the W3C Trace Context recommendation requires, never an error.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Final, TypeVar

from ingest.sdk.tracing import ActiveSpan, SpanContext, current_context, use_context

__all__ = [
    "TRACEPARENT",
    "TRACESTATE",
    "continue_trace",
    "extract",
    "format_traceparent",
    "inject",
    "parse_traceparent",
]

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
# version-traceid-parentid-flags; a future version may append "-<more>" after the 55 characters.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_MAX_TRACESTATE: Final = 512  # characters; longer lists are dropped rather than passed on
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16

H = TypeVar("H", bound=MutableMapping[str, str])


def parse_traceparent(value: str, trace_state: str = "") -> SpanContext | None:
    """The remote context of a ``traceparent`` value; None when malformed (version ``ff``, a version
    ``00`` value of another length, upper-case or non-hex digits, all-zero ids)."""
    match = _TRACEPARENT.match(value.strip(" \t"))
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    state = trace_state.strip(" \t")
    return SpanContext(
        trace_id,
        span_id,
        sampled=bool(int(flags, 16) & 0x01),
        remote=True,
        trace_state=state if len(state) <= _MAX_TRACESTATE else "",
    )


def format_traceparent(context: SpanContext) -> str:
    """The ``traceparent`` value naming ``context`` as the parent (version 00)."""
    return f"00-{context.trace_id}-{context.span_id}-{'01' if context.sampled else '00'}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None and isinstance(headers, dict):  # a plain dict is case-sensitive; HTTP is not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def extract(headers: Mapping[str, str]) -> SpanContext | None:
    """The parent context carried by request ``headers`` (any mapping: a dict, Starlette's or
    httpx's headers); None when there is no valid ``traceparent``."""
    value = _header(headers, TRACEPARENT)
    if not isinstance(value, str):
        return None
    return parse_traceparent(value, _header(headers, TRACESTATE) or "")


def inject(headers: H, context: SpanContext | ActiveSpan | None = None) -> H:
    """Write ``traceparent`` (and ``tracestate`` when there is one) naming ``context`` — by default
    the current span — into outgoing request ``headers``, and return them. Without any context the
    headers are returned unchanged."""
    if isinstance(context, ActiveSpan):
        context = context.context
    if context is None:
        context = current_context()
    if context is None:
        return headers
    if isinstance(headers, dict):  # drop differently-cased copies a plain dict may hold
        for key in [k for k in headers if k.lower() in (TRACEPARENT, TRACESTATE)]:
            del headers[key]
    headers[TRACEPARENT] = format_traceparent(context)
    if context.trace_state:
        headers[TRACESTATE] = context.trace_state
    return headers


@contextlib.contextmanager
def continue_trace(headers: Mapping[str, str]) -> Iterator[SpanContext | None]:
    """Within the block, spans started without an explicit parent continue the trace of the request
    whose ``headers`` are given (a new trace starts when they carry none)."""
    with use_context(extract(headers)) as context:
        yield context
