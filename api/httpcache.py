"""HTTP answers made cheap to repeat and to carry: ``ETag`` with ``If-None-Match`` (304) on every
data GET, ``Cache-Control`` as the route decides (settled ranges cacheable, the open edge
revalidated), brotli or gzip per ``Accept-Encoding`` above a size threshold, and ``Server-Timing``.

:class:`HttpCacheMiddleware` buffers a response only when it comes whole (one body message); a
streamed one (the live feed's Server-Sent Events) passes through untouched. Compression of large
bodies runs in a worker thread: never CPU work of that size on the event loop. A data GET's body, and
any other body of :data:`_KEEP_COMPRESSED_BYTES` or more (a batch's), is compressed once per hash and
coding (the last :data:`_COMPRESSED_BYTES` kept): many clients polling the same answer cost one
compression. An ``ETag`` the route set (a body it rendered before, api/bodies.py) is used as it is:
the body is not hashed again.

Short path: a route may say, through :data:`CURRENT_SCOPE_KEY`, how long its answer stays the
answer to the same request (a query's, for its window period while no stored window is heard). The
answer is then kept by the exact path and query string the route validated and answered, and a GET
of the same path and query string is answered from it while that holds, without routing, parameter
validation or the route (authentication and rate limits run before this middleware; ETag, 304 and
compression as for any answer). At most :data:`_SHORT_ENTRIES` are kept.
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import time
from collections.abc import Callable
from typing import Any

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.bodies import etag_of
from api.cache import Answer

__all__ = ["CURRENT_SCOPE_KEY", "SETTLED_MAX_AGE_S", "HttpCacheMiddleware", "answer_headers", "choose_encoding"]

# A route puts here a callable telling whether its answer is still the answer to the same request
# (api/query.py: the query cache's whole answer, for its window period while no window is heard).
CURRENT_SCOPE_KEY = "perfpulse.current"

# A settled answer changes only by a late correction (rare): clients may reuse it this long unasked.
SETTLED_MAX_AGE_S = 60
_DATA_PREFIX = "/api/"
_COMPRESSIBLE = ("application/json", "text/", "application/javascript", "image/svg+xml")
_THREAD_BYTES = 64 * 1024  # bodies past this are hashed and compressed in a worker thread
_MAX_ACCEPT_ENCODING = 512  # characters of Accept-Encoding read (the rest is ignored)
_MAX_IF_NONE_MATCH = 2048  # characters of If-None-Match read
_COMPRESSED_BYTES = 16 * 1024 * 1024  # compressed bodies kept, by ETag (a hash of the body) and coding
_SHORT_ENTRIES = 1_024  # answers kept for the short path (the oldest out first)
_KEEP_COMPRESSED_BYTES = 16 * 1024  # other answers this large are kept compressed too (hashing is ~10x cheaper)


def answer_headers(response: Response, answer: Answer) -> None:
    """``Cache-Control`` and ``Server-Timing`` of a query answer: a settled range may be reused for
    :data:`SETTLED_MAX_AGE_S`; a range reaching the open edge must be revalidated (its ETag)."""
    settled = f"private, max-age={SETTLED_MAX_AGE_S}"
    response.headers["Cache-Control"] = settled if answer.settled else "private, no-cache"
    response.headers["Server-Timing"] = ", ".join(f"{name};dur={ms:.1f}" for name, ms in answer.timing_ms.items())


def choose_encoding(accept_encoding: str) -> str | None:
    """``br``, ``gzip`` or None (identity) for an ``Accept-Encoding`` value, brotli preferred; a
    coding with ``q=0`` is refused, ``*`` accepts both."""
    accepted: dict[str, float] = {}
    for item in accept_encoding[:_MAX_ACCEPT_ENCODING].split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        accepted[name.strip().lower()] = q
    for coding in ("br", "gzip"):
        if accepted.get(coding, accepted.get("*", 0.0)) > 0:
            return coding
    return None


def _matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): any listed tag with the same opaque part, or ``*``."""
    opaque = etag.removeprefix("W/")
    tags = [t.strip() for t in if_none_match[:_MAX_IF_NONE_MATCH].split(",")]
    return any(t == "*" or t.removeprefix("W/") == opaque for t in tags)


def _encode(body: bytes, coding: str) -> bytes:
    if coding == "br":
        return bytes(brotli.compress(body, quality=4))  # quality 4: ~gzip's speed, smaller output
    return gzip.compress(body, compresslevel=5, mtime=0)


class HttpCacheMiddleware:
    """ETag/304 on data GETs, compression past ``min_bytes`` and ``Server-Timing`` (``app``: the
    whole request in this process) on every whole HTTP response."""

    def __init__(self, app: ASGIApp, min_bytes: int = 1024) -> None:
        self.app = app
        self.min_bytes = min_bytes
        self._compressed = _Compressed(_COMPRESSED_BYTES)
        # (path, query string) -> an answer the route gave that exact request, while it says current
        self._current: dict[tuple[str, bytes], tuple[Message, bytes, Callable[[], bool]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        request = Headers(scope=scope)
        short = (scope["path"], scope["query_string"]) if scope["method"] == "GET" else None
        kept = self._current.get(short) if short is not None else None
        if kept is not None and kept[2]():  # the route said so: skip routing, validation and the route
            headers = MutableHeaders(raw=list(kept[0]["headers"]))
            headers["Server-Timing"] = f"cache;dur={(time.perf_counter() - began) * 1000:.1f}"
            await self._finish(scope, request, {**kept[0], "headers": headers.raw}, kept[1], began, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        streaming = False

        async def buffered(message: Message) -> None:
            nonlocal start, streaming
            if streaming:
                await send(message)
            elif message["type"] == "http.response.start":
                start = message
                if Headers(raw=message["headers"]).get("content-type", "").startswith("text/event-stream"):
                    streaming = True
                    await send(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):  # a stream: pass it on as it comes
                    streaming = True
                    await send(_with_timing(start, began))
                    await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
                    chunks.clear()
            else:
                await send(message)

        await self.app(scope, receive, buffered)
        if streaming or start is None:
            return
        body = b"".join(chunks)
        current = scope.get(CURRENT_SCOPE_KEY)
        if short is not None and current is not None and start["status"] == 200:
            if len(self._current) >= _SHORT_ENTRIES:
                del self._current[next(iter(self._current))]
            self._current[short] = (start, body, current)
        await self._finish(scope, request, start, body, began, send)

    async def _finish(
        self, scope: Scope, request: Headers, start: Message, body: bytes, began: float, send: Send
    ) -> None:
        headers = MutableHeaders(raw=list(start["headers"]))
        status = int(start["status"])
        data_get = scope["method"] == "GET" and scope["path"].startswith(_DATA_PREFIX)
        coding = None
        if (
            len(body) >= self.min_bytes
            and "content-encoding" not in headers
            and headers.get("content-type", "").startswith(_COMPRESSIBLE)
        ):
            coding = choose_encoding(request.get("accept-encoding", ""))
            headers.add_vary_header("Accept-Encoding")
        etag = headers.get("etag")  # set by a route that kept its rendered body (api/bodies.py)
        if data_get and status == 200:
            if etag is None:
                etag = await _off_loop(etag_of, body)
            headers["ETag"] = etag
            headers.setdefault("Cache-Control", "private, no-cache")
            if _matches(request.get("if-none-match", ""), etag):
                for name in ("content-length", "content-type"):
                    del headers[name]
                start = {**start, "status": 304, "headers": headers.raw}
                await send(_with_timing(start, began))
                await send({"type": "http.response.body", "body": b""})
                return
        if coding is not None:
            if etag is None and len(body) >= _KEEP_COMPRESSED_BYTES:  # a large POST answer (a batch)
                etag = await _off_loop(etag_of, body)
            body = await self._encode(body, coding, etag)
            headers["Content-Encoding"] = coding
            headers["Content-Length"] = str(len(body))
        await send(_with_timing({**start, "headers": headers.raw}, began))
        await send({"type": "http.response.body", "body": body})

    async def _encode(self, body: bytes, coding: str, etag: str | None) -> bytes:
        """``body`` compressed with ``coding``; kept by ``etag``, the body's hash (None: not kept)."""
        if etag is None:
            encoded: bytes = await _off_loop(_encode, body, coding)
            return encoded
        found = self._compressed.get((etag, coding))
        if found is None:
            found = await _off_loop(_encode, body, coding)
            self._compressed.put((etag, coding), found)
        return found


class _Compressed:
    """Compressed bodies by (ETag, coding), least recently used out past ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._bodies: collections.OrderedDict[tuple[str, str], bytes] = collections.OrderedDict()

    def get(self, key: tuple[str, str]) -> bytes | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: tuple[str, str], body: bytes) -> None:
        if key in self._bodies or len(body) > self.max_bytes:
            return
        self._bodies[key] = body
        self.bytes += len(body)
        while self.bytes > self.max_bytes:
            self.bytes -= len(self._bodies.popitem(last=False)[1])


async def _off_loop(work: Any, body: bytes, *args: Any) -> Any:
    """``work(body, *args)``, in a worker thread when ``body`` is large."""
    if len(body) > _THREAD_BYTES:
        return await asyncio.to_thread(work, body, *args)
    return work(body, *args)


def _with_timing(start: Message | None, began: float) -> Message:
    """``start`` with ``app;dur=`` (ms since the request came) added to its ``Server-Timing``."""
    assert start is not None, "a body came before the response start"
    headers = MutableHeaders(raw=list(start["headers"]))
    total = f"app;dur={(time.perf_counter() - began) * 1000:.1f}"
    timing = headers.get("server-timing")
    headers["Server-Timing"] = f"{timing}, {total}" if timing else total
    return {**start, "headers": headers.raw}
