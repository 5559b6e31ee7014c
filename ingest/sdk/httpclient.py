"""httpx transports that trace outgoing calls: a client span, ``traceparent`` out, ``http.client.duration``.

``httpx.Client(transport=TracedTransport(emitter))`` (or ``httpx.AsyncClient(transport=
AsyncTracedTransport(emitter))``); pass ``transport=`` to wrap another transport than httpx's
default. Per request:

a CLIENT span under the current span, the request's ``traceparent`` naming it, and one
``http.client.duration`` observation in milliseconds up to the response's headers (a streamed body
is read after), as :mod:`ingest.sdk.clientcall` describes.

httpx is imported only when no inner transport is given: the SDK's base install does not need it.
"""

from __future__ import annotations

import contextlib
from collections.abc import MutableMapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ingest.sdk.clientcall import ClientCall, ClientTracer
from ingest.sdk.emitter import Emitter

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


def _traced(tracer: ClientTracer, request: _Request) -> contextlib.AbstractContextManager[ClientCall]:
    url = request.url
    return tracer.call(request.method, url.scheme, url.netloc.decode("ascii", "replace"), url.path, request.headers)


class TracedTransport(_SyncBase):
    """A synchronous httpx transport tracing every request sent through ``transport`` (default
    ``httpx.HTTPTransport()``)."""

    def __init__(self, emitter: Emitter, transport: Any = None, *, metric: str = "http.client.duration") -> None:
        if transport is None:
            import httpx  # optional: only users of httpx have it

            transport = httpx.HTTPTransport()
        self._tracer = ClientTracer(emitter, metric)
        self.transport = transport

    def handle_request(self, request: Any) -> Any:
        with _traced(self._tracer, request) as call:
            response = self.transport.handle_request(request)
            call.answered(response.status_code)
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
        self._tracer = ClientTracer(emitter, metric)
        self.transport = transport

    async def handle_async_request(self, request: Any) -> Any:
        with _traced(self._tracer, request) as call:
            response = await self.transport.handle_async_request(request)
            call.answered(response.status_code)
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
