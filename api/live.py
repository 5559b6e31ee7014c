"""``WS /api/v1/live`` and ``GET /api/v1/live/sse``: each new closed window's result of the
subscriptions a client holds, pushed as the sink stores it (the hub: api/livefeed_hub.py).

WebSocket: connect (``?format=json|msgpack&interval_ms=100``, or the subprotocol
``perfpulse.live.json`` / ``perfpulse.live.msgpack``), read ``hello``, send
``{"type": "subscribe", "subscriptions": [...], "resume": "<cursor>"?}``, then read ``batch`` frames
(at most one per ``interval_ms``), ``heartbeat`` frames every ``heartbeat_s``, results flowing or
not (answer anything, e.g. ``{"type": "pong"}``: a client silent for the hub's timeout is closed),
``subscribed`` and ``error`` replies. ``{"type": "unsubscribe", "ids": [...]}`` drops subscriptions.
Close codes: 1008 refused (key, scope), 1009 message too large, 1013 slow consumer or server full
(resume), 1012 server stopping, 4408 client silent.

SSE: ``?subscribe=<JSON list>`` and ``interval_ms``; events ``hello``, ``batch``, ``heartbeat`` and
``close``, each batch and heartbeat with ``id: <cursor>``, so ``EventSource`` resumes by itself
(``Last-Event-ID``).

Keys: ``Authorization: Bearer`` as everywhere; a browser, which cannot set that header on a
WebSocket or an EventSource, sends the subprotocol ``bearer.<key>`` (WebSocket) or the parameter
``access_token`` (SSE): :class:`LiveKeys` moves it into the header before the auth middleware and
removes it from what is echoed or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import orjson
from fastapi import APIRouter, Header, Query, Request, WebSocket
from fastapi.responses import StreamingResponse
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from api.auth import KEYS_REFRESH_S, Auth
from api.errors import ApiError, error_responses
from api.livefeed_hub import Connection, Frame, LiveFull, LiveHub
from api.livefeed_metrics import CONNECTIONS, EVENTS_SENT, FRAMES_SENT, SEND_LAG
from api.livefeed_wire import (
    MAX_CLIENT_MESSAGE_BYTES,
    Cursor,
    Format,
    LiveInputError,
    PongMessage,
    SubscribeMessage,
    decode_client,
    encode,
    parse_cursor,
    parse_subscriptions,
)
from api.wsframes import DIRECT_WRITE, SharedFrameProtocol
from storage import StoreError
from storage.keys import Scope as KeyScope
from storage.keys import hash_key

__all__ = ["LiveKeys", "router"]

router = APIRouter(prefix="/api/v1", tags=["live"])

LIVE_PATH = "/api/v1/live"
SUBPROTOCOL = "perfpulse.live."  # + json or msgpack
BEARER_SUBPROTOCOL = "bearer."  # + the key, for browsers
KEY_PARAM = "access_token"  # the key as a parameter, for EventSource (and WebSocket clients without subprotocols)
DEFAULT_INTERVAL_MS = 100
MAX_INTERVAL_MS = 10_000
SEND_TIMEOUT_S = 10.0  # a WebSocket send blocked this long (a client not reading) closes it
SSE_RETRY_MS = 2_000  # how soon an EventSource reconnects
_DIGITS = re.compile(r"[0-9]{1,5}")


def _hub(app: Any) -> LiveHub:
    hub: LiveHub = app.state.live
    return hub


@dataclass(slots=True)
class _Watched:
    key_hash: str | None  # of its bearer key; None: no key
    writer: asyncio.Task[None] | None = None  # its WebSocket writer, cancelled when a send is stuck


class _Watch:
    """Open connections checked by one task for all of them, every :data:`KEYS_REFRESH_S`: a send
    blocked more than :data:`SEND_TIMEOUT_S` (a client not reading) is cancelled and its connection
    closed (1013); and, a live connection outliving the handshake the auth middleware checked, the
    key table is read once and each connection whose key no longer reads (revoked, or a key is now
    required) is closed (1008). It runs while connections are watched."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        self.watched: dict[Connection, _Watched] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, conn: Connection, headers: Headers) -> None:
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        key = token.strip()
        self.watched[conn] = _Watched(hash_key(key) if scheme.lower() == "bearer" and key else None)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def writer(self, conn: Connection, task: asyncio.Task[None]) -> None:
        self.watched[conn].writer = task

    def remove(self, conn: Connection) -> None:
        self.watched.pop(conn, None)

    async def _run(self) -> None:
        while self.watched:
            await asyncio.sleep(KEYS_REFRESH_S)
            self._stuck()
            if self.auth.keys is None:
                continue
            try:
                table = await self.auth.keys.current()
            except StoreError:
                continue  # the keys stay as last read; the auth middleware logs it
            if not table.made:
                continue
            for conn, watched in list(self.watched.items()):
                key = table.active.get(watched.key_hash) if watched.key_hash is not None else None
                if key is None:
                    conn.close(1008, "the API key was revoked, or a key is now required", "key_withdrawn")
                elif key.scope not in (KeyScope.READ, KeyScope.ADMIN):
                    why = f"API key {key.id} has scope {key.scope.value!r}; the live feed needs a read or admin key"
                    conn.close(1008, why, "key_withdrawn")
                else:
                    continue
                self.remove(conn)

    def _stuck(self) -> None:
        now = time.monotonic()
        for conn, watched in list(self.watched.items()):
            since = conn.sending_since
            if watched.writer is not None and since is not None and now - since > SEND_TIMEOUT_S:
                conn.close(1013, f"a frame waited more than {SEND_TIMEOUT_S:.0f} s to be sent", "send_timeout")
                watched.writer.cancel()
                self.remove(conn)


_watches: weakref.WeakKeyDictionary[Auth, _Watch] = weakref.WeakKeyDictionary()  # one per app


def _watch(app: Any, scope: Scope, conn: Connection) -> _Watch:
    """Watch ``conn`` until :meth:`_Watch.remove` (when the connection ends)."""
    auth: Auth = app.state.auth
    watch = _watches.get(auth)
    if watch is None:
        watch = _watches[auth] = _Watch(auth)
    watch.add(conn, Headers(scope=scope))
    return watch


def _interval_s(value: str | None, loc: str) -> float:
    if value is None:
        return DEFAULT_INTERVAL_MS / 1000
    if not _DIGITS.fullmatch(value) or int(value) > MAX_INTERVAL_MS:  # ASCII digits: "²".isdigit() is true
        msg = f"{value[:20]!r} is not a whole number of milliseconds from 0 to {MAX_INTERVAL_MS}"
        raise LiveInputError("invalid interval_ms", [{"loc": loc, "msg": msg}])
    return int(value) / 1000


def _format(query: str | None, offered: list[str]) -> tuple[Format, str | None]:
    """The encoding asked by ``format`` or by a ``perfpulse.live.<format>`` subprotocol, and the
    subprotocol to accept (a browser that offered subprotocols needs one back)."""
    if query is not None and query not in Format.__members__.values():
        msg = f"{query[:20]!r} is not one of {', '.join(Format)}"
        raise LiveInputError("invalid format", [{"loc": "query.format", "msg": msg}])
    for protocol in offered:
        name = protocol.removeprefix(SUBPROTOCOL)
        if protocol.startswith(SUBPROTOCOL) and name in Format.__members__.values():
            return Format(query or name), protocol
    return Format(query or Format.JSON), None


def _error(exc: LiveInputError) -> dict[str, Any]:
    return {"type": "error", "error": exc.error, "details": exc.details}


def _subscribe(hub: LiveHub, conn: Connection, message: SubscribeMessage) -> dict[str, Any]:
    resume = parse_cursor(message.resume, "message.resume") if message.resume is not None else None
    refusal = hub.subscribe(conn, message.subscriptions, resume)
    reply: dict[str, Any] = {"type": "subscribed", "ids": [s.id for s in message.subscriptions]}
    if resume is not None:
        reply |= {"resumed": refusal is None, "reason": refusal}
    return reply


async def _read(websocket: WebSocket, hub: LiveHub, conn: Connection) -> None:
    """The client's messages until it leaves, falls silent or sends what cannot be taken."""
    while conn.closing is None:
        try:
            async with asyncio.timeout(hub.limits.timeout_s):  # no task per message, as wait_for makes
                message = await websocket.receive()
        except TimeoutError:
            why = f"no message from the client in {hub.limits.timeout_s:.0f} s; answer heartbeats with pong"
            conn.close(4408, why, "client_silent")
            return
        if message["type"] == "websocket.disconnect":
            return
        raw: str | bytes = message.get("text") or message.get("bytes") or b""
        if len(raw) > MAX_CLIENT_MESSAGE_BYTES:
            conn.close(1009, f"a message of {len(raw)} bytes; at most {MAX_CLIENT_MESSAGE_BYTES}", "too_large")
            return
        try:
            parsed = decode_client(raw)
            if isinstance(parsed, SubscribeMessage):
                conn.reply(_subscribe(hub, conn, parsed))
            elif not isinstance(parsed, PongMessage):
                conn.reply({"type": "unsubscribed", "ids": hub.unsubscribe(conn, parsed.ids)})
        except LiveInputError as exc:
            conn.reply(_error(exc))


@functools.cache
def _counted(transport: str, fmt: Format) -> tuple[Counter, Counter, Histogram]:
    """The metrics' children of ``transport`` and ``fmt`` (``labels`` looks them up on every call)."""
    return FRAMES_SENT.labels(transport, fmt.value), EVENTS_SENT.labels(transport), SEND_LAG.labels(transport)


def _sent(frame: Frame, transport: str, fmt: Format) -> None:
    frames, events, lag = _counted(transport, fmt)
    frames.inc()
    if frame.oldest is not None:
        events.inc(frame.events)
        lag.observe(time.monotonic() - frame.oldest)


async def _send(websocket: WebSocket, data: str | bytes) -> None:
    await (websocket.send_text(data) if isinstance(data, str) else websocket.send_bytes(data))


class _DirectSend:
    """Batches sent from the hub's flush through the server's :data:`DIRECT_WRITE` extension."""

    def __init__(self, hub: LiveHub, writer: SharedFrameProtocol, fmt: Format) -> None:
        self.hub = hub
        self.writer = writer
        self.fmt = fmt

    def ready(self) -> bool:
        return self.writer.ready()

    def send(self, frame: Frame) -> None:
        self.writer.write(self.hub.encode(frame, self.fmt))
        _sent(frame, "websocket", self.fmt)


async def _write(websocket: WebSocket, hub: LiveHub, conn: Connection, fmt: Format) -> None:
    """Send ``conn``'s frames. A send waits only while this client's socket is not draining (the
    server's write buffer over its high-water mark); the client's queue is bounded meanwhile, and
    :class:`_Watch` cancels a send stuck for :data:`SEND_TIMEOUT_S` (a timeout per send cost ~5% of
    the API process at 1,000 connections). Under a server with :data:`DIRECT_WRITE` the hub sends
    a round's batches itself while this writer is idle; what it cannot send at once comes here."""
    writer = websocket.scope.get("extensions", {}).get(DIRECT_WRITE)
    if writer is not None:
        conn.direct = _DirectSend(hub, writer, fmt)
    async for frame in hub.frames(conn):
        if frame.kind == "close":
            return
        conn.sending_since = time.monotonic()
        await _send(websocket, hub.encode(frame, fmt))
        conn.sending_since = None
        _sent(frame, "websocket", fmt)


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """The live feed over WebSocket (see the module's docstring for the protocol)."""
    hub = _hub(websocket.app)
    try:
        fmt, protocol = _format(websocket.query_params.get("format"), list(websocket.scope.get("subprotocols", [])))
        conn = hub.open(_interval_s(websocket.query_params.get("interval_ms"), "query.interval_ms"))
    except (LiveInputError, LiveFull) as exc:
        # Accepted, then closed: a handshake refused before accept reaches the client as a bare 403.
        code, why = (1013, str(exc)) if isinstance(exc, LiveFull) else (1008, f"{exc.error}: {exc.details[0]['msg']}")
        await websocket.accept()
        await websocket.close(code, why[:120])
        return
    CONNECTIONS.labels("websocket").inc()
    watcher = _watch(websocket.app, websocket.scope, conn)
    try:
        await websocket.accept(subprotocol=protocol)
        await _send(websocket, encode(_hello(hub), fmt))
        reader = asyncio.create_task(_read(websocket, hub, conn))
        writer = asyncio.create_task(_write(websocket, hub, conn, fmt))
        watcher.writer(conn, writer)
        await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        conn.close(1000, "closed", "done")  # wakes the writer when the reader ended first
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await writer
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader
        assert conn.closing is not None
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await websocket.close(conn.closing[0], conn.closing[1][:120])
    except WebSocketDisconnect:
        pass
    finally:
        watcher.remove(conn)
        hub.close(conn)
        CONNECTIONS.labels("websocket").dec()


def _hello(hub: LiveHub) -> dict[str, Any]:
    limits = hub.limits
    return {
        "type": "hello",
        "cursor": str(Cursor(stream=hub.stream, seq=hub.seq)),
        "heartbeat_s": limits.heartbeat_s,
        "timeout_s": limits.timeout_s,
        "max_subscriptions": limits.max_subscriptions,
        "resume_s": limits.resume_s,
    }


def _sse(frame_kind: str, cursor: str | None, data: str) -> bytes:
    head = f"id: {cursor}\n" if cursor else ""
    return f"{head}event: {frame_kind}\ndata: {data}\n\n".encode()


def _sse_frame(hub: LiveHub, frame: Frame) -> bytes:
    cursor = frame.cursor if frame.control is None else frame.control.get("cursor")
    data = hub.encode(frame, Format.JSON)
    assert isinstance(data, str)  # JSON frames are text
    return _sse(frame.kind, cursor, data)


_SSE_ANSWER = {
    "description": "a text/event-stream of hello, batch, heartbeat and close events, JSON data (README: Live feed)",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.get(
    "/live/sse",
    summary="The live feed as Server-Sent Events",
    response_class=StreamingResponse,
    responses={
        200: _SSE_ANSWER,
        **error_responses({400: "a subscription or parameter is invalid (named in details)", 503: "server full"}),
    },
)
async def live_sse(
    request: Request,
    subscribe: Annotated[str, Query(max_length=16_384, description="a JSON list of subscriptions (as over WebSocket)")],
    interval_ms: Annotated[
        int, Query(ge=0, le=MAX_INTERVAL_MS, description="at most one batch per this many ms")
    ] = DEFAULT_INTERVAL_MS,
    last_event_id: Annotated[str | None, Header(max_length=64, description="set by EventSource on reconnect")] = None,
    resume: Annotated[
        str | None, Query(max_length=64, description="a cursor to resume from (as Last-Event-ID)")
    ] = None,
) -> StreamingResponse:
    """Subscriptions are fixed for the stream's life; a reconnecting EventSource resumes from the
    last event it saw (``Last-Event-ID``) without gaps or repeats while the server keeps it."""
    hub = _hub(request.app)
    try:
        subs = parse_subscriptions(subscribe)
        wanted = resume or last_event_id
        cursor = parse_cursor(wanted, "header.last-event-id" if resume is None else "query.resume") if wanted else None
        conn = hub.open(interval_ms / 1000)
    except LiveInputError as exc:
        raise ApiError(400, exc.error, exc.details) from None
    except LiveFull as exc:
        raise ApiError(503, "cannot open a live feed", [{"loc": "connection", "msg": str(exc)}]) from None
    try:
        refusal = hub.subscribe(conn, subs, cursor)
    except LiveInputError as exc:
        hub.close(conn)
        raise ApiError(400, exc.error, exc.details) from None
    hello = _hello(hub) | ({"resumed": refusal is None, "reason": refusal} if cursor is not None else {})
    stream = _stream(hub, conn, hello, _watch(request.app, request.scope, conn))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _stream(hub: LiveHub, conn: Connection, hello: dict[str, Any], watcher: _Watch) -> AsyncIterator[bytes]:
    CONNECTIONS.labels("sse").inc()
    try:
        hello_body = {k: v for k, v in hello.items() if k != "cursor"}  # not an id: nothing was received yet
        yield f"retry: {SSE_RETRY_MS}\n".encode() + _sse("hello", None, orjson.dumps(hello_body).decode())
        async for frame in hub.frames(conn):
            yield _sse_frame(hub, frame)
            _sent(frame, "sse", Format.JSON)
            if frame.kind == "close":
                return
    finally:
        watcher.remove(conn)
        hub.close(conn)
        CONNECTIONS.labels("sse").dec()


class LiveKeys:
    """Moves a key sent the browser's way into ``Authorization`` for the auth middleware behind it:
    the WebSocket subprotocol ``bearer.<key>`` (then dropped from the offered subprotocols, so it is
    never echoed) or the SSE parameter ``access_token`` (then dropped from the query string, which
    the scope dict shares with the server's access log). A request that has the header keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith(LIVE_PATH):
            headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
            if not any(name == b"authorization" for name, _ in headers):
                key = _lift_key(scope, headers)
                if key:
                    scope["headers"] = [*headers, (b"authorization", b"Bearer " + key.encode("latin-1"))]
        await self.app(scope, receive, send)


def _lift_key(scope: Scope, headers: list[tuple[bytes, bytes]]) -> str | None:
    """The browser-sent key of ``scope``, removed from where it came; None when there is none."""
    if scope["type"] == "websocket":
        offered: list[str] = list(scope.get("subprotocols", []))
        keys = [p.removeprefix(BEARER_SUBPROTOCOL) for p in offered if p.startswith(BEARER_SUBPROTOCOL)]
        if keys:
            kept = [p for p in offered if not p.startswith(BEARER_SUBPROTOCOL)]
            scope["subprotocols"] = kept
            headers[:] = [(n, v) for n, v in headers if n != b"sec-websocket-protocol"]
            if kept:
                headers.append((b"sec-websocket-protocol", ", ".join(kept).encode("latin-1")))
            return keys[0]
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    keys = [v for k, v in pairs if k == KEY_PARAM]
    if not keys:
        return None
    scope["query_string"] = urlencode([(k, v) for k, v in pairs if k != KEY_PARAM]).encode("latin-1")
    return keys[0]
