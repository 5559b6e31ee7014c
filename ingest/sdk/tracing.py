"""Tracing in the SDK: span contexts, the recorder of one span, and the current span as a contextvar.

A span entered with ``with emitter.span("op"):`` (or ``async with``) becomes the current span of its
context: spans started inside it are its children, log records written inside it carry its trace and
span ids. The current span lives in a :class:`contextvars.ContextVar`, so it follows the code across
``await``s, and an asyncio task started inside a span sees that span as its parent while sibling
tasks never see each other's spans (each task runs in a copy of the context it was created in).

A context from elsewhere (a ``traceparent`` header, see :mod:`ingest.sdk.traceparent`) is continued
with :func:`use_context` or by passing it as ``parent``.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from schemas import Limits
from schemas.attributes import attribute_text
from schemas.log_envelope import parse_level
from schemas.spans import Span, SpanEvent, SpanKind, SpanStatus

__all__ = [
    "ActiveSpan",
    "SpanContext",
    "current_context",
    "current_span",
    "fit_attributes",
    "new_span_id",
    "new_trace_id",
    "use_context",
]

_ids = random.Random()  # ids must be unique, not secret (as OpenTelemetry's); a forked child reseeds
os.register_at_fork(after_in_child=_ids.seed)


def new_trace_id() -> str:
    """32 random lowercase hex digits, never all zero."""
    while not (value := _ids.getrandbits(128)):
        pass
    return f"{value:032x}"


def new_span_id() -> str:
    """16 random lowercase hex digits, never all zero."""
    while not (value := _ids.getrandbits(64)):
        pass
    return f"{value:016x}"


@dataclass(frozen=True, slots=True)
class SpanContext:
    """What identifies a span across process boundaries (W3C trace context)."""

    trace_id: str  # 32 lowercase hex, not all zero
    span_id: str  # 16 lowercase hex, not all zero
    sampled: bool = True  # the traceparent "sampled" flag, passed on as received
    remote: bool = False  # extracted from another process's headers
    trace_state: str = ""  # the W3C tracestate header, passed on unchanged


_current: ContextVar[ActiveSpan | SpanContext | None] = ContextVar("perfpulse_current_span", default=None)


def current_span() -> ActiveSpan | None:
    """The span entered most recently in this context and not yet left; None outside any span."""
    value = _current.get()
    return value if isinstance(value, ActiveSpan) else None


def current_context() -> SpanContext | None:
    """The context new spans and log records of this context attach to: the current span's, or a
    remote one set by :func:`use_context`; None outside any."""
    value = _current.get()
    return value.context if isinstance(value, ActiveSpan) else value


@contextlib.contextmanager
def use_context(context: SpanContext | None) -> Iterator[SpanContext | None]:
    """Make ``context`` (typically extracted from a request's headers) the parent of the spans started
    inside the block; a no-op for None, so ``with use_context(extract(headers)):`` always works."""
    if context is None:
        yield None
        return
    token = _current.set(context)
    try:
        yield context
    finally:
        _reset(token, None)


def _reset(token: Token[ActiveSpan | SpanContext | None], fallback: ActiveSpan | SpanContext | None) -> None:
    try:
        _current.reset(token)
    except ValueError:  # left in another context than it was entered in (a generator moved across tasks)
        _current.set(fallback)


def fit_attributes(
    attributes: Mapping[str, object], limits: Limits, into: dict[str, str] | None = None
) -> dict[str, str]:
    """Attributes as text within ``limits``: values truncated, names cut short, the attributes past
    the count limit left out. Adds to ``into`` when given (keys already there are replaced)."""
    out = {} if into is None else into
    max_key, max_value = limits.max_label_key_length, limits.max_attribute_value_length
    max_count = limits.max_span_attributes
    for key, value in attributes.items():
        name = str(key)[:max_key] or "_"
        if name not in out and len(out) >= max_count:
            continue
        text = attribute_text(value)
        out[name] = text if len(text) <= max_value else text[:max_value]
    return out


_EXCEPTION_EVENT_FRAMES: Final = 20


class ActiveSpan:
    """Records one span: tags, span logs, status; made by :meth:`Emitter.span <ingest.Emitter.span>`.

    Use it as a ``with`` or ``async with`` block: entering makes it the current span, leaving ends
    it (an exception leaving the block marks it an error and is recorded as a span log) and hands it
    to the emitter. It may also be ended explicitly with :meth:`end` (then it never was current).
    Instrumentation must not break the code it observes: values past the limits are truncated,
    tags and span logs past the count limits are left out (counted in :attr:`dropped`), nothing
    raises. Not thread-safe: one span is recorded by one thread or task.
    """

    __slots__ = (
        "_ended",
        "_finish",
        "_limits",
        "_start_perf",
        "_token",
        "context",
        "dropped",
        "events",
        "kind",
        "operation",
        "parent",
        "parent_span_id",
        "service",
        "start_ns",
        "status",
        "status_message",
        "tags",
    )

    def __init__(
        self,
        finish: Callable[[Span], None],
        service: str,
        operation: str,
        parent: SpanContext | None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        tags: Mapping[str, object] | None = None,
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass
    ) -> None:
        """``finish`` receives the span once ended; ``parent`` None starts a new trace."""
        self._finish = finish
        self._limits = limits
        self.service = service
        self.operation = operation
        self.parent = parent
        self.context = SpanContext(
            parent.trace_id if parent is not None else new_trace_id(),
            new_span_id(),
            sampled=parent.sampled if parent is not None else True,
            trace_state=parent.trace_state if parent is not None else "",
        )
        self.parent_span_id = parent.span_id if parent is not None else None
        self.kind = kind
        self.tags: dict[str, str] = fit_attributes(tags, limits) if tags else {}
        self.events: list[SpanEvent] = []
        self.status = SpanStatus.UNSET
        self.status_message = ""
        self.dropped = 0  # tags and span logs left out for the limits
        self._token: Token[ActiveSpan | SpanContext | None] | None = None
        self._ended = False
        self.start_ns = time.time_ns()  # epoch ns; the duration is measured on the monotonic clock
        self._start_perf = time.perf_counter_ns()

    @property
    def trace_id(self) -> str:
        return self.context.trace_id

    @property
    def span_id(self) -> str:
        return self.context.span_id

    def set_tag(self, key: str, value: object) -> ActiveSpan:
        """Set one tag (any scalar; stored as text)."""
        before = len(self.tags)
        fit_attributes({key: value}, self._limits, self.tags)
        if len(self.tags) == before and key not in self.tags:
            self.dropped += 1
        return self

    def set_tags(self, **tags: object) -> ActiveSpan:
        for key, value in tags.items():
            self.set_tag(key, value)
        return self

    def log(self, message: str, level: str = "info", **attributes: object) -> ActiveSpan:
        """Add a span log (the spec's TraceSpan ``logs``): a message at ``level`` (trace, debug,
        info, warn, error, fatal; ``warning``/``critical`` accepted) with optional attributes.
        Raises ``ValueError`` only for an unknown level."""
        event_level = parse_level(level).value
        if len(self.events) >= self._limits.max_span_events:
            self.dropped += 1
            return self
        text = str(message)
        if len(text) > self._limits.max_message_length:
            text = text[: self._limits.max_message_length]
        self.events.append(
            SpanEvent(time.time_ns(), text, event_level, fit_attributes(attributes, self._limits) if attributes else {})
        )
        return self

    def set_status(self, status: SpanStatus | str, message: str = "") -> ActiveSpan:
        """``ok``, ``error`` or ``unset``, with an optional description (kept for errors)."""
        self.status = SpanStatus(status)
        self.status_message = message[: self._limits.max_message_length]
        return self

    def record_exception(self, exc: BaseException) -> ActiveSpan:
        """Mark the span an error and add a span log naming the exception's type and message."""
        kind = type(exc).__qualname__
        module = type(exc).__module__
        qualified = kind if module in ("builtins", "__main__") else f"{module}.{kind}"
        text = str(exc)
        self.set_status(SpanStatus.ERROR, f"{qualified}: {text}" if text else qualified)
        stack = "".join(traceback.format_exception(exc, limit=_EXCEPTION_EVENT_FRAMES))
        self.log(
            self.status_message,
            "error",
            **{"exception.type": qualified, "exception.message": text, "exception.stacktrace": stack},
        )
        return self

    def end(self) -> None:
        """End the span now and hand it to the emitter; later calls do nothing."""
        if self._ended:
            return
        self._ended = True
        end_ns = self.start_ns + (time.perf_counter_ns() - self._start_perf)
        self._finish(
            Span(
                trace_id=self.context.trace_id,
                span_id=self.context.span_id,
                parent_span_id=self.parent_span_id,
                service=self.service,
                operation=self.operation,
                start_ns=self.start_ns,
                end_ns=end_ns,
                kind=self.kind,
                status=self.status,
                status_message=self.status_message,
                tags=self.tags,
                events=self.events,
            )
        )

    def __enter__(self) -> ActiveSpan:
        self._token = _current.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and isinstance(exc, Exception):  # not a cancellation, an exit or ^C
            self.record_exception(exc)
        if self._token is not None:
            _reset(self._token, self.parent)
            self._token = None
        self.end()

    async def __aenter__(self) -> ActiveSpan:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)
