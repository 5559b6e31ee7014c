"""httpx transports that trace outgoing calls: a client span, ``traceparent`` out, ``http.client.duration``.

``httpx.Client(transport=TracedTransport(emitter))`` (or ``httpx.AsyncClient(transport=
AsyncTracedTransport(emitter))``); pass ``transport=`` to wrap another transport than httpx's
default. Per request:

* a CLIENT span ``<METHOD> <host>`` (child of the current span; a new trace outside any) tagged
  ``http.method``, ``http.url`` (scheme, host and path: never the query, which may carry secrets),
  ``server.address`` and ``http.status_code``; an error for a 5xx status or an exception;
* the request's ``traceparent`` (and ``tracestate``) naming that span, so the callee continues it;
* one ``http.client.duration`` observation in milliseconds up to the response's headers (a streamed
  body is read after), labelled ``method``, ``status_code`` (``error`` when no response came) and
  ``host`` (host and port: never the path, so series stay bounded).

httpx is imported only when no inner transport is given: the SDK's base install does not need it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, MutableMapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ingest.sdk.emitter import Emitter
from ingest.sdk.httpmethod import method_label
from ingest.sdk.traceparent import inject
from ingest.sdk.tracing import ActiveSpan
from schemas import SpanKind, SpanStatus
from schemas.checks import check_metric_name

__all__ = ["AsyncTracedTransport", "TracedTransport"]

if TYPE_CHECKING:  # type checkers see httpx's transports; at run time httpx stays optional
    from httpx import AsyncBaseTransport as _AsyncBase
    from httpx import BaseTransport as _SyncBase
else:
    _AsyncBase = _SyncBase = object


class _URL(Protocol):
    @property
    def scheme(self) -> str: ...
    @property
    def netloc(self) -> bytes: ...
    @property
    def path(self) -> str: ...


class _Request(Protocol):
    """The parts of an ``httpx.Request`` read and written here."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> _URL: ...
    @property
    def headers(self) -> MutableMapping[str, str]: ...


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...


class _Call:
    """One traced request: its span (current while the request runs) and the status seen."""

    __slots__ = ("host", "method", "span", "status")

    def __init__(self, emitter: Emitter, request: _Request) -> None:
        self.method = method_label(request.method)
        url = request.url
        self.host = url.netloc.decode("ascii", "replace")
        self.status = "error"
        self.span: ActiveSpan = emitter.span(f"{self.method} {self.host}", kind=SpanKind.CLIENT)
        self.span.set_tags(
            **{
                "http.method": self.method,
                "http.url": f"{url.scheme}://{self.host}{url.path}",
                "server.address": self.host,
            }
        )

    def answered(self, response: _Response) -> None:
        code = response.status_code
        self.status = str(code)
        self.span.set_tag("http.status_code", code)
        if code >= 500:
            self.span.set_status(SpanStatus.ERROR, f"HTTP {code}")


class _Tracer:
    """What both transports share: the emitter, the metric, one traced call."""

    def __init__(self, emitter: Emitter, metric: str) -> None:
        if (problem := check_metric_name(metric, emitter.limits)) is not None:
            raise ValueError(f"cannot trace HTTP calls: {problem}")
        self.emitter = emitter
        self.metric = metric

    @contextlib.contextmanager
    def call(self, request: _Request) -> Iterator[_Call]:
        """Trace the request sent inside the block: its span current, its headers naming it."""
        call = _Call(self.emitter, request)
        inject(request.headers, call.span)
        started = time.perf_counter()
        try:
            with call.span:
                yield call
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self.emitter.observe(self.metric, elapsed_ms, method=call.method, status_code=call.status, host=call.host)


class TracedTransport(_SyncBase):
    """A synchronous httpx transport tracing every request sent through ``transport`` (default
    ``httpx.HTTPTransport()``)."""

    def __init__(self, emitter: Emitter, transport: Any = None, *, metric: str = "http.client.duration") -> None:
        if transport is None:
            import httpx  # optional: only users of httpx have it

            transport = httpx.HTTPTransport()
        self._tracer = _Tracer(emitter, metric)
        self.transport = transport

    def handle_request(self, request: Any) -> Any:
        with self._tracer.call(request) as call:
            response = self.transport.handle_request(request)
            call.answered(response)
            return response

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> TracedTransport:
        self.transport.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        self.transport.__exit__(exc_type, exc, tb)


class AsyncTracedTransport(_AsyncBase):
    """An asynchronous httpx transport tracing every request sent through ``transport`` (default
    ``httpx.AsyncHTTPTransport()``)."""

    def __init__(self, emitter: Emitter, transport: Any = None, *, metric: str = "http.client.duration") -> None:
        if transport is None:
            import httpx  # optional: only users of httpx have it

            transport = httpx.AsyncHTTPTransport()
        self._tracer = _Tracer(emitter, metric)
        self.transport = transport

    async def handle_async_request(self, request: Any) -> Any:
        with self._tracer.call(request) as call:
            response = await self.transport.handle_async_request(request)
            call.answered(response)
            return response

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncTracedTransport:
        await self.transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self.transport.__aexit__(exc_type, exc, tb)
