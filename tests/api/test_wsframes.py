"""The shared-frame WebSocket protocol under a real uvicorn server with real websockets clients: the
same message to several clients is framed once, compressed clients and an uncompressed one all read
it whole, one message after another, what clients send still arrives, and an app may write at once
through the direct-write extension."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

from api import wsframes
from api.wsframes import DIRECT_WRITE, SharedFrameProtocol, WireFrames
from tests.ingest.helpers import serving

# One object per message, as the live feed's frame cache hands the same str to every connection.
MESSAGES: list[str | bytes] = [
    '{"type":"batch","events":[' + ",".join(f'{{"seq":{i},"p99":{i * 1.5}}}' for i in range(400)) + "]}",
    bytes(range(256)) * 40,
    '{"type":"heartbeat","cursor":"0badcafe.7"}',
]


async def _app(websocket: WebSocket) -> None:
    """Sends MESSAGES once asked with "go", then echoes what the client sends as text."""
    await websocket.accept()
    async for said in websocket.iter_text():
        if said == "go":
            for message in MESSAGES:
                await (websocket.send_text(message) if isinstance(message, str) else websocket.send_bytes(message))
        else:
            await websocket.send_text(f"heard {said}")


async def _direct(websocket: WebSocket) -> None:
    """Writes MESSAGES through the server's direct-write extension, then closes."""
    await websocket.accept()
    writer = websocket.scope["extensions"][DIRECT_WRITE]
    assert await websocket.receive_text() == "go"
    for message in MESSAGES:
        assert writer.ready()
        writer.write(message)
    await websocket.close(1000)
    assert not writer.ready()  # closed: the app must not write any more


@contextmanager
def _served(ws_per_message_deflate: bool = True) -> Iterator[str]:
    app = Starlette(routes=[WebSocketRoute("/ws", _app), WebSocketRoute("/direct", _direct)])
    with serving(app, ws=SharedFrameProtocol, ws_per_message_deflate=ws_per_message_deflate, log_config=None) as base:
        yield base.replace("http://", "ws://")


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> WireFrames:
    fresh = WireFrames()
    monkeypatch.setattr(wsframes, "_wire_frames", fresh)
    return fresh


def test_a_message_to_many_clients_is_framed_once_per_compression_and_read_whole_by_each(frames: WireFrames) -> None:
    with _served() as base:
        url = f"{base}/ws"
        compressed = [connect(url) for _ in range(3)]  # websockets clients offer permessage-deflate
        plain = connect(url, compression=None)
        try:
            for client in compressed:
                assert client.response is not None
                offered = client.response.headers["Sec-WebSocket-Extensions"]
                assert "permessage-deflate" in offered and "server_no_context_takeover" in offered
            assert plain.response is not None and "Sec-WebSocket-Extensions" not in plain.response.headers
            for client in [*compressed, plain]:
                client.send("go")
                # Three messages in a row: each decompresses on its own, as negotiated.
                assert [client.recv(timeout=10) for _ in MESSAGES] == MESSAGES
            # Each message framed once compressed (for 3 clients) and once plain (for 1).
            assert frames.made == 2 * len(MESSAGES)
            compressed[0].send("hello")  # what a client sends is read as before
            assert compressed[0].recv(timeout=10) == "heard hello"
        finally:
            for client in [*compressed, plain]:
                client.close()


def test_without_permessage_deflate_the_frames_are_plain_and_shared(frames: WireFrames) -> None:
    with _served(ws_per_message_deflate=False) as base:
        clients = [connect(f"{base}/ws") for _ in range(2)]
        try:
            for client in clients:
                assert client.response is not None and "Sec-WebSocket-Extensions" not in client.response.headers
                client.send("go")
                assert [client.recv(timeout=10) for _ in MESSAGES] == MESSAGES
            assert frames.made == len(MESSAGES)
        finally:
            for client in clients:
                client.close()


@pytest.mark.parametrize("compression", ["deflate", None])
def test_an_app_writes_a_message_at_once_through_the_extension(frames: WireFrames, compression: str | None) -> None:
    with _served() as base, connect(f"{base}/direct", compression=compression) as client:
        client.send("go")
        assert [client.recv(timeout=10) for _ in MESSAGES] == MESSAGES
        with pytest.raises(ConnectionClosedOK):
            client.recv(timeout=10)
    assert frames.made == len(MESSAGES)


def test_the_wire_frames_are_bounded_in_bytes_and_made_again_when_dropped() -> None:
    frames = WireFrames(max_bytes=8_000)
    first, second = "a" * 2_000, "b" * 2_000
    head = frames.wire(first, None)
    assert Frame(Opcode.TEXT, first.encode()).serialize(mask=False) == head  # an unmasked final text frame
    frames.wire(second, None)  # the message and its frame, twice: over 8,000 bytes, so the first is dropped
    assert frames.made == 2
    frames.wire(second, None)
    assert frames.made == 2  # kept
    frames.wire(first, None)
    assert frames.made == 3  # dropped, made again
    large = "c" * 2_001  # over a quarter of the bound: made, never kept
    frames.wire(large, None)
    frames.wire(large, None)
    assert frames.made == 5
    frames.wire(first, None)
    assert frames.made == 5  # the large ones pushed nothing out
