"""Who may open the live feed, and how it keeps itself alive: keys and scopes as everywhere (a header,
or the browser's ways: a WebSocket subprotocol, an SSE parameter, neither echoed), heartbeats, and a
silent client closed with its reason. A real uvicorn server with short heartbeats and timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import api.live
from api.livefeed_hub import Connection, LiveLimits
from perfpulse.settings import Settings
from tests.api.apps import app_settings, new_topics
from tests.api.test_live import frame, query_sub, served, url

HEARTBEAT_S = 0.3
TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def module_settings(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("live-guard") / "data"
    return app_settings(kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap),
                        live_heartbeat_s=HEARTBEAT_S, live_timeout_s=TIMEOUT_S)  # fmt: skip


@pytest.fixture(scope="module")
def server(module_settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    with served(module_settings) as running:
        yield running


@pytest.fixture(scope="module")
def keys(server: tuple[str, FastAPI]) -> dict[str, str]:
    """One key per scope, made through the API (the first while none exists)."""
    address, _ = server
    made: dict[str, str] = {}
    for scope in ("admin", "read", "ingest"):
        headers = {"Authorization": f"Bearer {made['admin']}"} if made else {}
        response = httpx.post(f"http://{address}/api/v1/keys", json={"scope": scope, "name": scope}, headers=headers)
        assert response.status_code == 201, response.text
        made[scope] = response.json()["key"]
    return made


def test_a_websocket_needs_a_read_key(server: tuple[str, FastAPI], keys: dict[str, str]) -> None:
    address, _ = server
    with pytest.raises(InvalidStatus) as refused:
        connect(url(address))
    assert refused.value.response.status_code == 403  # a WebSocket closed before accept is answered 403
    with pytest.raises(InvalidStatus):
        connect(url(address), additional_headers={"Authorization": f"Bearer {keys['ingest']}"})
    for key in (keys["read"], keys["admin"]):
        with connect(url(address), additional_headers={"Authorization": f"Bearer {key}"}) as ws:
            assert frame(ws)["type"] == "hello"


def test_a_browser_sends_its_key_as_a_subprotocol_never_echoed(
    server: tuple[str, FastAPI], keys: dict[str, str]
) -> None:
    address, _ = server
    offered = ["perfpulse.live.msgpack", f"bearer.{keys['read']}"]
    with connect(url(address), subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "perfpulse.live.msgpack"
        assert ws.response is not None and keys["read"] not in str(ws.response.headers)
        assert isinstance(ws.recv(10), bytes)  # the subprotocol chose MessagePack
    with pytest.raises(InvalidStatus):
        connect(url(address), subprotocols=["perfpulse.live.json", "bearer.pp_unknown"])  # type: ignore[list-item]
    with connect(url(address, access_token=keys["read"], format="json")) as ws:  # the parameter works too
        assert orjson.loads(ws.recv(10))["type"] == "hello"
    with pytest.raises(InvalidStatus):
        connect(url(address, access_token=keys["ingest"]))


def test_sse_takes_the_header_or_an_access_token_parameter(server: tuple[str, FastAPI], keys: dict[str, str]) -> None:
    address, _ = server
    params = {"subscribe": orjson.dumps([query_sub("m")]).decode()}
    sse = f"http://{address}/api/v1/live/sse"
    assert httpx.get(sse, params=params).status_code == 401
    assert httpx.get(sse, params={**params, "access_token": keys["ingest"]}).status_code == 403
    for how in ({"params": {**params, "access_token": keys["read"]}},
                {"params": params, "headers": {"Authorization": f"Bearer {keys['read']}"}}):  # fmt: skip
        with httpx.stream("GET", sse, timeout=10, **how) as response:  # type: ignore[arg-type]
            assert response.status_code == 200
            assert next(response.iter_lines()).startswith("retry:")


def test_heartbeats_come_and_a_silent_client_is_closed(server: tuple[str, FastAPI], keys: dict[str, str]) -> None:
    address, _ = server
    with connect(url(address), additional_headers={"Authorization": f"Bearer {keys['read']}"}) as ws:
        assert frame(ws)["type"] == "hello"
        ws.send(orjson.dumps({"type": "subscribe", "subscriptions": [query_sub("m")]}).decode())
        beats = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                body = orjson.loads(ws.recv(30))
                if body["type"] == "heartbeat":
                    beats.append(body["cursor"])
    assert beats, "no heartbeat before the timeout"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
    assert "no message from the client" in closed.value.rcvd.reason


def test_a_client_answering_heartbeats_stays(server: tuple[str, FastAPI], keys: dict[str, str]) -> None:
    address, _ = server
    with connect(url(address), additional_headers={"Authorization": f"Bearer {keys['read']}"}) as ws:
        assert frame(ws)["type"] == "hello"
        beats = 0
        while beats < int(3 * TIMEOUT_S / HEARTBEAT_S):  # well past the timeout
            if orjson.loads(ws.recv(30))["type"] == "heartbeat":
                beats += 1
                ws.send('{"type": "pong"}')


def test_revoking_the_key_ends_its_open_connections(server: tuple[str, FastAPI], keys: dict[str, str]) -> None:
    address, _ = server
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    made = httpx.post(f"http://{address}/api/v1/keys", json={"scope": "read", "name": "soon revoked"}, headers=admin)
    assert made.status_code == 201, made.text
    reader = {"Authorization": f"Bearer {made.json()['key']}"}
    params = {"subscribe": orjson.dumps([query_sub("m")]).decode()}
    with (
        connect(url(address), additional_headers=reader) as ws,
        httpx.stream("GET", f"http://{address}/api/v1/live/sse", params=params, headers=reader, timeout=30) as sse,
    ):
        assert frame(ws)["type"] == "hello" and sse.status_code == 200
        revoked = httpx.delete(f"http://{address}/api/v1/keys/{made.json()['id']}", headers=admin)
        assert revoked.status_code == 200, revoked.text
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.send('{"type": "pong"}')  # alive: only the key can end it
                ws.recv(30)
        events = [line for line in sse.iter_lines() if line.startswith(("event:", "data:"))]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "revoked" in closed.value.rcvd.reason
    assert events[-2] == "event: close" and "revoked" in orjson.loads(events[-1].removeprefix("data: "))["reason"]


def test_a_send_stuck_past_the_timeout_is_cancelled_and_its_connection_closed(
    server: tuple[str, FastAPI], keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that stops reading blocks its own writer only; the check that runs for every
    connection cancels that send and closes it 1013, and leaves a connection sending in time."""
    _, app = server
    monkeypatch.setattr(api.live, "KEYS_REFRESH_S", 0.01)
    headers = Headers({"authorization": f"Bearer {keys['read']}"})

    async def scenario() -> tuple[Connection, Connection, bool]:
        watch = api.live._Watch(app.state.auth)
        stuck, fine = Connection(LiveLimits(), interval_s=0), Connection(LiveLimits(), interval_s=0)
        sends = [asyncio.create_task(asyncio.sleep(3_600)) for _ in range(2)]  # sends that do not return
        for conn, send in zip((stuck, fine), sends, strict=True):
            watch.add(conn, headers)
            watch.writer(conn, send)
        stuck.sending_since = time.monotonic() - api.live.SEND_TIMEOUT_S - 1
        fine.sending_since = time.monotonic()
        await asyncio.wait({sends[0]}, timeout=30)  # cancelled by the check, within milliseconds
        cancelled = sends[0].cancelled() and not sends[1].done()
        for conn in (stuck, fine):
            watch.remove(conn)
        sends[1].cancel()
        return stuck, fine, cancelled

    stuck, fine, cancelled = asyncio.run(scenario())
    assert cancelled
    assert stuck.closing is not None and stuck.closing[0] == 1013 and "to be sent" in stuck.closing[1]
    assert fine.closing is None
