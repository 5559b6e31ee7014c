"""The API server's WebSocket protocol: uvicorn's own (websockets, sans-I/O), with every message the
server sends compressed on its own (permessage-deflate's ``server_no_context_takeover``), so that
one message sent to many clients is compressed and framed once and the same bytes are written to
each socket.

With context takeover (uvicorn's default) each connection's compressor carries the previous
messages, so a live-feed frame sent to 1,000 clients was deflated 1,000 times: ~9 % of the API
process's CPU while it fanned out, and its framing as much again. Without it a message compresses a
little less (each starts with an empty window), which the live feed's frames, a few KiB of JSON or
MessagePack each, barely notice. Clients that do not offer permessage-deflate get the uncompressed
frame, shared the same way. What the client sends is read exactly as before.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

__all__ = ["DIRECT_WRITE", "SharedFrameProtocol", "WireFrames"]

# The ASGI extension in a WebSocket scope: an object with ``ready() -> bool`` (a message would be
# written at once: the socket open, its buffer under the high-water mark) and ``write(data)`` (one
# message, str as text, bytes as binary, written now without awaiting), for an app that sends one
# message to many connections in one pass. An app must not use it while a ``websocket.send`` of the
# same connection is awaited (its order would not be kept).
DIRECT_WRITE = "perfpulse.websocket.write"

WIRE_CACHE_BYTES = 16 * 1024 * 1024  # frames kept for the sockets still to be written to


class WireFrames:
    """The wire bytes of recent server messages (frame header and payload, compressed or not), keyed
    by the message and how the connection compresses, at most ``max_bytes`` of them, least recently
    used dropped first. ``made`` counts the frames built (the rest were found)."""

    def __init__(self, max_bytes: int = WIRE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.made = 0
        self._frames: OrderedDict[tuple[str | bytes, int], bytes] = OrderedDict()
        self._bytes = 0

    def wire(self, data: str | bytes, deflate: PerMessageDeflate | None) -> bytes:
        """``data`` as one unmasked final frame (text for a str, binary for bytes), compressed by
        ``deflate`` (which must not take context over: its output depends on the message alone)."""
        key = (data, deflate.local_max_window_bits if deflate is not None else 0)
        found = self._frames.get(key)
        if found is not None:
            self._frames.move_to_end(key)
            return found
        opcode, payload = (Opcode.TEXT, data.encode()) if isinstance(data, str) else (Opcode.BINARY, data)
        made = Frame(opcode, payload).serialize(mask=False, extensions=[deflate] if deflate is not None else [])
        self.made += 1
        if len(data) > self.max_bytes // 4:  # kept, it would push out most of the others
            return made
        self._frames[key] = made
        self._bytes += len(made) + len(data)
        while self._bytes > self.max_bytes and self._frames:
            (old, _), old_frame = self._frames.popitem(last=False)
            self._bytes -= len(old_frame) + len(old)
        return made


_wire_frames = WireFrames()  # one per process: every connection shares it


class SharedFrameProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol (``uvicorn.run(..., ws=SharedFrameProtocol)``) negotiating
    ``server_no_context_takeover`` and writing ``websocket.send`` messages from :class:`WireFrames`.
    Handshakes, pings, closes and what clients send are uvicorn's code, unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            # uvicorn's settings (window bits 12, memLevel 5: ~20 KiB per connection), plus the one
            # that makes a message's compressed bytes the same on every connection.
            deflate = ServerPerMessageDeflateFactory(
                server_max_window_bits=12,
                client_max_window_bits=12,
                server_no_context_takeover=True,
                compress_settings={"memLevel": 5},
            )
            self.conn = ServerProtocol(
                extensions=[deflate], max_size=self.config.ws_max_size, logger=logging.getLogger("uvicorn.error")
            )

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.handshake_initiated and not self.close_sent:  # the ASGI app is to run with self.scope
            cast(dict[str, Any], self.scope["extensions"])[DIRECT_WRITE] = self

    def ready(self) -> bool:
        """Whether :meth:`write` writes at once (see :data:`DIRECT_WRITE`)."""
        return self.writable.is_set() and not self.disconnected and self._shareable() and self._open()

    def write(self, data: str | bytes) -> None:
        """``data`` as one message, written now; only after :meth:`ready` said so."""
        deflate = self.conn.extensions[0] if self.conn.extensions else None
        assert deflate is None or isinstance(deflate, PerMessageDeflate)
        self.transport.write(_wire_frames.wire(data, deflate))

    def _open(self) -> bool:
        return (
            self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and self.conn.state is State.OPEN
        )

    def _shareable(self) -> bool:
        """Whether this connection's frames depend on the message alone: uncompressed, or
        compressed without context takeover."""
        extensions = self.conn.extensions
        return not extensions or (
            len(extensions) == 1
            and isinstance(extensions[0], PerMessageDeflate)
            and extensions[0].local_no_context_takeover
        )

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] != "websocket.send":
            await super().send(message)
            return
        await self.writable.wait()  # the transport's buffer under its high-water mark, as uvicorn waits
        if self.disconnected:
            raise ClientDisconnected()
        data: Any = message.get("bytes")
        if data is None:
            data = message.get("text")
        if not (isinstance(data, str | bytes) and self._shareable() and self._open()):
            await super().send(message)  # uvicorn's path, its checks and errors
            return
        self.write(data)
