"""The live feed over a real uvicorn server (its websockets implementation, permessage-deflate), real
chDB, Kafka and Redis: results pushed when a stored-windows message is published on Redis, as the
query API answers them; one query per distinct subscription; MessagePack; resuming without gaps
or repeats; SSE; errors naming the field. Connection mechanics (bounded queue, heartbeats) are
checked on the hub's connection itself."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import orjson
import ormsgpack
import pytest
import redis
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from alerting.rules import AlertTransition, State, transition_record
from api.livefeed_hub import Connection, Entry, LiveHub, LiveLimits
from api.livefeed_models import LiveBatch, LiveGap, LiveHello
from api.livefeed_subs import QuerySub
from api.livefeed_wire import Cursor
from api.wsframes import SharedFrameProtocol
from perfpulse.app import create_app
from perfpulse.settings import Settings
from schemas.events import StoredWindow, encode_stored, stored_channel
from storage.rows import AlertHistoryColumns
from tests.api.test_alerts import alert
from tests.ingest.helpers import serving
from tests.storage.builders import BASE_MS, insert_rows, window_row

VALUES = np.arange(1.0, 101.0)  # p50 50.5-ish through the histogram engine, count 100


@contextmanager
def served(settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    """The whole app under a real uvicorn server (the API's WebSocket protocol) on a free loopback
    port: (host:port, app)."""
    app = create_app(settings)
    with serving(app, 60, log_config=None, access_log=False, ws=SharedFrameProtocol) as base:
        yield base.removeprefix("http://"), app


@pytest.fixture(scope="module")
def server(module_settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    with served(module_settings) as running:
        wait_listening(module_settings)
        yield running


def wait_listening(settings: Settings) -> None:
    """Until the API process subscribed to the stored-windows channel (a message before is unheard)."""
    client = redis.Redis.from_url(settings.redis_url)
    channel = stored_channel(settings.topic_prefix)
    deadline = time.monotonic() + 30
    while _subscribers(client, channel) < 1:
        assert time.monotonic() < deadline, "the live feed never subscribed to its channel"
        time.sleep(0.05)


def _subscribers(client: redis.Redis, channel: str) -> int:
    found: Any = client.pubsub_numsub(channel)  # [(channel, count)]; typed as maybe awaitable
    return int(found[0][1])


def hub(app: FastAPI) -> LiveHub:
    found: LiveHub = app.state.live
    return found


def publish(settings: Settings, *windows: StoredWindow) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    client.publish(stored_channel(settings.topic_prefix), encode_stored(list(windows), time.time_ns() // 1_000_000))


def store_window(app: FastAPI, metric: str, start_ms: int, service: str = "gateway", **labels: str) -> StoredWindow:
    insert_rows(app.state.api.store, [window_row(VALUES, window_start_ms=start_ms, name=metric, service=service,
                                                 labels=labels or None)])  # fmt: skip
    return StoredWindow(metric, service, start_ms, 1_000, False)


def fresh_metric() -> str:
    return f"live.{uuid.uuid4().hex[:8]}"


def frame(ws: ClientConnection, timeout: float = 30) -> dict[str, Any]:
    """The next frame but heartbeats, decoded from JSON text or MessagePack binary."""
    while True:
        raw = ws.recv(timeout)
        body: dict[str, Any] = orjson.loads(raw) if isinstance(raw, str) else ormsgpack.unpackb(raw)
        if body["type"] != "heartbeat":
            return body


def subscribe(ws: ClientConnection, *subs: dict[str, Any], resume: str | None = None) -> dict[str, Any]:
    ws.send(orjson.dumps({"type": "subscribe", "subscriptions": list(subs), "resume": resume}).decode())
    reply = frame(ws)
    assert reply["type"] == "subscribed", reply
    return reply


def events(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
    """The next ``n`` events, over however many batch frames they come in."""
    found: list[dict[str, Any]] = []
    while len(found) < n:
        body = frame(ws)
        assert body["type"] == "batch", body
        LiveBatch.model_validate(body)
        found += body["events"]
    assert len(found) == n, found
    return found


def url(address: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"ws://{address}/api/v1/live" + (f"?{query}" if query else "")


@contextmanager
def opened(address: str) -> Iterator[ClientConnection]:
    """A JSON connection whose hello was read."""
    with connect(url(address)) as ws:
        assert frame(ws)["type"] == "hello"
        yield ws


def query_sub(metric: str, sub_id: str = "q", **extra: Any) -> dict[str, Any]:
    return {"id": sub_id, "kind": "query", "metric": metric, "stats": ["p50", "p99", "count"], **extra}


def live_result(ws: ClientConnection, app: FastAPI, settings: Settings, metric: str, start_ms: int) -> dict[str, Any]:
    """Subscribe ``ws`` to a query of ``metric``, store and publish its window at ``start_ms``: the
    result pushed."""
    subscribe(ws, query_sub(metric))
    publish(settings, store_window(app, metric, start_ms))
    (event,) = events(ws, 1)
    return event


def test_a_stored_window_arrives_as_the_query_api_answers_it(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    metric = fresh_metric()
    with connect(url(address)) as ws:
        hello = frame(ws)
        LiveHello.model_validate(hello)
        assert hello["cursor"].startswith(hub(app).stream + ".")
        assert ws.response is not None
        assert "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
        subscribe(ws, query_sub(metric))
        stored = store_window(app, metric, BASE_MS + 5_000)
        publish(module_settings, stored)
        (event,) = events(ws, 1)
    answer = httpx.get(
        f"http://{address}/api/v1/query",
        params={
            "metric": metric,
            "start": stored.start_ms,
            "end": stored.end_ms,
            "step": "1s",
            "stats": "p50,p99,count",
        },
    ).json()
    assert event["sub"] == "q" and event["late"] is False and event["truncated"] is False
    assert event["window"] == {"start": stored.start_ms, "end": stored.end_ms}
    assert event["data"] == answer  # the same engine, the same figures
    assert event["data"]["series"][0]["points"][0]["count"] == 100


def test_messagepack_frames_carry_the_same_result(server: tuple[str, FastAPI], module_settings: Settings) -> None:
    address, app = server
    metric = fresh_metric()
    with connect(url(address, format="msgpack")) as ws:
        hello = ws.recv(30)
        assert isinstance(hello, bytes) and ormsgpack.unpackb(hello)["type"] == "hello"
        ws.send(ormsgpack.packb({"type": "subscribe", "subscriptions": [query_sub(metric, group_by=[])]}))
        assert frame(ws)["type"] == "subscribed"
        publish(module_settings, store_window(app, metric, BASE_MS + 6_000))
        (event,) = events(ws, 1)
    (series,) = event["data"]["series"]
    assert series["group"] == {} and series["points"][0]["count"] == 100


def result_queries() -> float:
    from api.livefeed_metrics import RESULT_QUERIES

    return RESULT_QUERIES.labels("query")._value.get()  # type: ignore[no-any-return]


def test_one_query_per_distinct_subscription_whatever_the_connections(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    metric = fresh_metric()
    with connect(url(address)) as a, connect(url(address)) as b, connect(url(address)) as c:
        for ws in (a, b, c):
            frame(ws)
        subscribe(a, query_sub(metric, "mine"))
        subscribe(b, query_sub(metric, "theirs", stats=["count", "p99", "p50", "p50"]))  # the same, written otherwise
        subscribe(c, query_sub(metric, "other", stats=["max"]))
        before = result_queries()
        publish(module_settings, store_window(app, metric, BASE_MS + 7_000))
        (ea,), (eb,), (ec,) = events(a, 1), events(b, 1), events(c, 1)
        assert result_queries() - before == 2
        # The server (api/wsframes.py) lets the hub send a round's frames from its flush.
        assert len(app.state.live.connections) == 3 and all(conn.direct for conn in app.state.live.connections)
    assert (ea["sub"], eb["sub"], ec["sub"]) == ("mine", "theirs", "other")
    assert ea["seq"] == eb["seq"] != ec["seq"]
    assert ec["data"]["series"][0]["points"][0] == {"t": BASE_MS + 7_000, "max": pytest.approx(100, rel=0.01)}


def test_the_results_of_one_round_arrive_in_one_frame(server: tuple[str, FastAPI], module_settings: Settings) -> None:
    _, app = server
    first, second = fresh_metric(), fresh_metric()
    live = LiveHub(app.state.api.store, 1_000, module_settings.redis_url, "unheard", LiveLimits(flush_s=60))
    conn = live.open(0)
    live.subscribe(
        conn, [QuerySub.model_validate(query_sub(m, sub_id)) for m, sub_id in ((first, "a"), (second, "b"))], None
    )
    windows = [store_window(app, metric, BASE_MS + 8_000) for metric in (first, second)]

    async def scenario() -> tuple[int, list[Any]]:
        reading = asyncio.create_task(_frames(conn, 1))  # takes the first frame the round wakes it for
        return await live.stored(windows, time.time_ns() // 1_000_000), await reading

    published, (batch,) = asyncio.run(scenario())
    assert published == 2
    assert sorted((e["sub"], e["data"]["metric"]) for e in batch.body["events"]) == [("a", first), ("b", second)]


def test_subscriptions_differing_only_by_metric_take_one_query_and_answer_as_the_query_api(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    metrics = [fresh_metric() for _ in range(3)]
    live = LiveHub(app.state.api.store, 1_000, module_settings.redis_url, "unheard", LiveLimits())
    conn = live.open(0)
    subs = [query_sub(m, f"s{i}", group_by=["route"]) for i, m in enumerate(metrics)]
    subs.append(query_sub(metrics[0], "other", stats=["max"]))  # another shape: a query of its own
    live.subscribe(conn, [QuerySub.model_validate(sub) for sub in subs], None)
    start = BASE_MS + 9_000
    windows = [store_window(app, m, start, route=f"/r{i}") for i, m in enumerate(metrics)]
    before = result_queries()
    assert asyncio.run(live.stored(windows, time.time_ns() // 1_000_000)) == 4
    assert result_queries() - before == 2
    (batch,) = asyncio.run(_frames(conn, 1))
    got = {e["sub"]: e["data"] for e in batch.body["events"]}
    for sub in subs:
        params = {"metric": sub["metric"], "start": start, "end": start + 1_000, "step": "1s",
                  "stats": ",".join(sub["stats"]), "group_by": ",".join(sub.get("group_by", ["service"]))}  # fmt: skip
        assert got[sub["id"]] == httpx.get(f"http://{address}/api/v1/query", params=params).json()
    assert got["s1"]["series"][0]["group"] == {"route": "/r1"}


def test_a_metric_with_too_many_series_fails_alone_not_the_metrics_queried_with_it(
    server: tuple[str, FastAPI], module_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    _, app = server
    big, small = fresh_metric(), fresh_metric()
    live = LiveHub(app.state.api.store, 1_000, module_settings.redis_url, "unheard", LiveLimits())
    conn = live.open(0)
    live.subscribe(conn, [QuerySub.model_validate(query_sub(m, m, group_by=["route"])) for m in (big, small)], None)
    start = BASE_MS + 11_000
    # 4,001 series: past the rows a query of two metrics may return (2,000 each), and of one alone
    rows = [window_row(VALUES, window_start_ms=start, name=big, labels={"route": f"/{i}"}) for i in range(4_001)]
    insert_rows(app.state.api.store, rows)
    windows = [StoredWindow(big, "gateway", start, 1_000, False), store_window(app, small, start)]
    assert asyncio.run(live.stored(windows, time.time_ns() // 1_000_000)) == 1
    (batch,) = asyncio.run(_frames(conn, 1))
    assert [e["sub"] for e in batch.body["events"]] == [small]
    assert f"cannot compute the live result of {big}" in caplog.text


def test_adjacent_windows_of_a_round_take_one_query_and_answer_as_the_query_api(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    metric = fresh_metric()
    live = LiveHub(app.state.api.store, 1_000, module_settings.redis_url, "unheard", LiveLimits())
    conn = live.open(0)
    live.subscribe(conn, [QuerySub.model_validate(query_sub(metric))], None)
    starts = [BASE_MS + 20_000, BASE_MS + 21_000, BASE_MS + 22_000, BASE_MS + 40_000]  # a run of 3, one apart
    windows = [store_window(app, metric, start, route=f"/r{i % 2}") for i, start in enumerate(starts)]
    before = result_queries()
    assert asyncio.run(live.stored(windows, time.time_ns() // 1_000_000)) == 4
    assert result_queries() - before == 2
    (batch,) = asyncio.run(_frames(conn, 1))
    for event, start in zip(batch.body["events"], starts, strict=True):
        params: dict[str, str | int] = {"metric": metric, "start": start, "end": start + 1_000, "step": "1s"}
        params["stats"] = "p50,p99,count"
        assert event["window"] == {"start": start, "end": start + 1_000}
        assert event["data"] == httpx.get(f"http://{address}/api/v1/query", params=params).json()


def test_services_subscription_gives_red_figures_per_window(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    service = f"svc-{uuid.uuid4().hex[:6]}"
    start = BASE_MS + 8_000
    with opened(address) as ws:
        subscribe(ws, {"id": "red", "kind": "services", "service": [service]})
        ok = store_window(app, "http.server.duration", start, service, status_code="200")
        store_window(app, "http.server.duration", start, service, status_code="503")
        publish(module_settings, ok)
        (event,) = events(ws, 1)
    (red,) = event["data"]["services"]
    assert red["service"] == service and red["requests"] == 200 and red["errors"] == 100
    assert red["error_rate"] == 0.5 and red["rate"] == 200.0


def test_alert_transitions_evaluated_since_subscribing_arrive_filtered(server: tuple[str, FastAPI]) -> None:
    address, app = server
    rule = f"live_{uuid.uuid4().hex[:8]}"
    with opened(address) as ws:
        subscribe(ws, {"id": "al", "kind": "alerts", "rule": rule, "state": ["firing"]})
        now = time.time_ns() // 1_000_000
        columns = AlertHistoryColumns()
        moves = [(rule, State.PENDING, State.INACTIVE), (rule, State.FIRING, State.PENDING),
                 ("another_rule", State.FIRING, State.PENDING)]  # fmt: skip
        for tick, (name, state, previous) in enumerate(moves, start=1):
            moved = alert(name, "gateway", state, now + tick)
            columns.add(200 + tick, transition_record(AlertTransition(moved, previous, now + tick), tick, 0, 7))
        table, data, names = columns.take()
        app.state.api.store.insert(table, data, names)
        body = frame(ws)
    assert body["type"] == "batch" and len(body["events"]) == 1, body
    (event,) = body["events"]
    assert event["sub"] == "al" and event["window"] is None
    assert (event["data"]["rule"], event["data"]["state"], event["data"]["at"]) == (rule, "firing", now + 2)


def test_a_client_resumes_with_exactly_what_it_missed(server: tuple[str, FastAPI], module_settings: Settings) -> None:
    address, app = server
    metric = fresh_metric()
    starts = [BASE_MS + 10_000 + i * 1_000 for i in range(4)]
    with opened(address) as ws:
        first = live_result(ws, app, module_settings, metric, starts[0])
    # Gone: the next two windows are computed for it all the same, in the order stored.
    seq = hub(app).seq
    for start in starts[1:3]:
        publish(module_settings, store_window(app, metric, start))
    deadline = time.monotonic() + 30
    while hub(app).seq < seq + 2:
        assert time.monotonic() < deadline, "the departed client's results were not computed"
        time.sleep(0.05)
    cursor = f"{hub(app).stream}.{first['seq']}"
    with opened(address) as ws:
        reply = subscribe(ws, query_sub(metric), resume=cursor)
        assert reply["resumed"] is True and reply["reason"] is None
        missed = events(ws, 2)
        publish(module_settings, store_window(app, metric, starts[3]))
        (live,) = events(ws, 1)
    got = [e["window"]["start"] for e in [*missed, live]]
    assert got == starts[1:]  # no gap, no repeat of the first
    seqs = [e["seq"] for e in [first, *missed, live]]
    assert seqs == sorted(set(seqs))


def test_a_lost_redis_subscription_tells_clients_of_the_gap(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    metric = fresh_metric()
    with opened(address) as ws:
        first = live_result(ws, app, module_settings, metric, BASE_MS + 40_000)
        client = redis.Redis.from_url(module_settings.redis_url)
        clients: Any = client.client_list()
        listeners = [c["id"] for c in clients if c["name"] == f"perfpulse-live-{hub(app).stream}"]
        assert listeners
        for listener in listeners:
            client.client_kill_filter(_id=listener)
        gap = LiveGap.model_validate(frame(ws))
        assert "reload" in gap.reason
    wait_listening(module_settings)
    with opened(address) as ws:
        reply = subscribe(ws, query_sub(metric), resume=f"{hub(app).stream}.{first['seq']}")
    assert reply["resumed"] is False and "missed" in reply["reason"]


def test_a_cursor_of_another_stream_is_told_it_cannot_resume(server: tuple[str, FastAPI]) -> None:
    address, app = server
    with opened(address) as ws:
        other = "00000000" if hub(app).stream != "00000000" else "11111111"
        reply = subscribe(ws, query_sub(fresh_metric()), resume=f"{other}.3")
    assert reply["resumed"] is False and other in reply["reason"]


@pytest.mark.parametrize(
    ("sub", "loc"),
    [
        ({"stats": ["p42"]}, "message.subscribe.subscriptions.0.query.stats.0"),
        ({"step": "1500ms"}, "subscriptions.0.step"),
        ({"group_by": ["bad label"]}, "message.subscribe.subscriptions.0.query.group_by"),
        ({"colour": "red"}, "message.subscribe.subscriptions.0.query"),
        ({"id": "no spaces"}, "message.subscribe.subscriptions.0.query.id"),
    ],
)
def test_a_bad_subscription_is_answered_with_its_field_and_the_connection_stays(
    server: tuple[str, FastAPI], sub: dict[str, Any], loc: str
) -> None:
    address, _ = server
    with opened(address) as ws:
        ws.send(orjson.dumps({"type": "subscribe", "subscriptions": [query_sub("m", **sub)]}).decode())
        error = frame(ws)
        assert error["type"] == "error" and loc in [d["loc"] for d in error["details"]], error
        subscribe(ws, query_sub("m", "fine"))


def test_limits_on_subscriptions_and_messages(server: tuple[str, FastAPI], module_settings: Settings) -> None:
    address, _ = server
    many = [query_sub(f"m{i}", f"s{i}") for i in range(module_settings.live_max_subscriptions + 1)]
    with opened(address) as ws:
        ws.send(orjson.dumps({"type": "subscribe", "subscriptions": many}).decode())
        error = frame(ws)
        assert error["type"] == "error" and "at most 50" in error["details"][-1]["msg"]
        ws.send("not json")
        assert frame(ws)["error"] == "cannot read the message as JSON"
        ws.send("x" * 70_000)
        with pytest.raises(Exception, match="1009"):
            frame(ws)


def test_sse_streams_results_and_resumes_from_last_event_id(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    metric = fresh_metric()
    subs = orjson.dumps([query_sub(metric)]).decode()
    sse = f"http://{address}/api/v1/live/sse"
    with httpx.stream("GET", sse, params={"subscribe": subs}, timeout=30) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith("retry:") and next(lines) == "event: hello"
        publish(module_settings, store_window(app, metric, BASE_MS + 20_000))
        record = sse_event(lines, "batch")
    first = record["data"]["events"][0]
    assert first["window"]["start"] == BASE_MS + 20_000 and first["data"]["series"][0]["points"][0]["count"] == 100
    publish(module_settings, store_window(app, metric, BASE_MS + 21_000))
    headers = {"Last-Event-ID": record["id"]}
    with httpx.stream("GET", sse, params={"subscribe": subs}, headers=headers, timeout=30) as response:
        lines = response.iter_lines()
        hello = sse_event(lines, "hello")
        assert hello["data"]["resumed"] is True
        resumed = sse_event(lines, "batch")["data"]["events"]
    assert [e["window"]["start"] for e in resumed] == [BASE_MS + 21_000]


def sse_event(lines: Iterator[str], kind: str) -> dict[str, Any]:
    """The next SSE event of ``kind``: its id and decoded data."""
    found: dict[str, Any] = {}
    for line in lines:
        if line.startswith("id: "):
            found["id"] = line.removeprefix("id: ")
        elif line.startswith("event: "):
            found["event"] = line.removeprefix("event: ")
        elif line.startswith("data: "):
            found["data"] = orjson.loads(line.removeprefix("data: "))
        elif not line and found:
            if found.get("event") == kind:
                return found
            found = {}
    raise AssertionError(f"the stream ended before a {kind} event")


def test_sse_refuses_bad_subscriptions_with_the_error_shape(server: tuple[str, FastAPI]) -> None:
    address, _ = server
    bad = orjson.dumps([{"id": "x", "kind": "nothing"}]).decode()
    response = httpx.get(f"http://{address}/api/v1/live/sse", params={"subscribe": bad})
    assert response.status_code == 400 and response.json()["details"][0]["loc"].startswith("query.subscribe")


def test_connections_messages_and_send_lag_are_on_metrics(
    server: tuple[str, FastAPI], module_settings: Settings
) -> None:
    address, app = server
    metric = fresh_metric()
    with opened(address) as ws:
        live_result(ws, app, module_settings, metric, BASE_MS + 30_000)
        text = httpx.get(f"http://{address}/metrics").text
    assert 'perfpulse_live_connections{transport="websocket"} 1.0' in text
    sent = [
        line for line in text.splitlines() if line.startswith('perfpulse_live_events_sent_total{transport="websocket"}')
    ]
    assert sent and float(sent[0].split()[-1]) >= 1
    assert 'perfpulse_live_send_lag_seconds_count{transport="websocket"}' in text
    assert "perfpulse_live_result_seconds_count" in text


# --- the connection's own mechanics, without a network


async def _frames(conn: Connection, n: int) -> list[Any]:
    taken = []
    async for got in conn.frames("abcd0123", [7]):
        taken.append(got)
        if len(taken) == n:
            break
    return taken


def test_a_slow_client_is_closed_with_a_reason_once_its_queue_is_full() -> None:
    async def scenario() -> list[Any]:
        conn = Connection(LiveLimits(max_queue=3), interval_s=0)
        for seq in range(1, 5):
            conn.push(Entry(seq, "k", {"n": seq}), "s")
        conn.wake()
        return await _frames(conn, 1)

    (closing,) = asyncio.run(scenario())
    assert closing.kind == "close" and closing.body["code"] == 1013 and "slow consumer" in closing.body["reason"]


def test_batches_are_bounded_and_heartbeats_carry_a_resumable_cursor() -> None:
    async def scenario() -> list[Any]:
        conn = Connection(LiveLimits(heartbeat_s=0.01), interval_s=0)
        for seq in range(1, 602):
            conn.push(Entry(seq, "k", {"n": seq}), "s")
        conn.wake()
        taken = []
        async for got in conn.frames("abcd0123", [7]):
            taken.append(got)
            if [f.kind for f in taken].count("batch") == 2 and got.kind == "heartbeat":
                return taken
        raise AssertionError(taken)

    frames = asyncio.run(scenario())
    big, rest = (f for f in frames if f.kind == "batch")
    assert (big.events, rest.events) == (500, 101)
    assert [e["seq"] for e in big.body["events"] + rest.body["events"]] == list(range(1, 602))
    assert rest.body["cursor"] == "abcd0123.601" and frames[-1].body == {"type": "heartbeat", "cursor": "abcd0123.601"}
    # a heartbeat between the two (a slow machine) has the cursor of what was sent
    assert all(f.body["cursor"] == "abcd0123.500" for f in frames[frames.index(big) + 1 : frames.index(rest)])


def test_heartbeats_come_while_results_flow() -> None:
    """A client answers heartbeats to stay; one given batches without a pause must get them too."""

    async def scenario() -> list[str]:
        conn = Connection(LiveLimits(heartbeat_s=0.05), interval_s=0)

        async def produce() -> None:
            for seq in itertools.count(1):
                conn.push(Entry(seq, "k", {"n": seq}), "s")
                conn.wake()
                await asyncio.sleep(0.005)

        producing = asyncio.create_task(produce())
        kinds: list[str] = []
        async for got in conn.frames("abcd0123", [0]):
            kinds.append(got.kind)
            if kinds.count("heartbeat") == 2 or len(kinds) == 1_000:
                break
        producing.cancel()
        return kinds

    kinds = asyncio.run(scenario())
    assert kinds.count("heartbeat") == 2 and kinds.count("batch") > 2, kinds


class _Socket:
    """A transport sending without awaiting (the hub's direct path), ready or not."""

    def __init__(self, ready: bool = True) -> None:
        self.is_ready = ready
        self.sent: list[Any] = []

    def ready(self) -> bool:
        return self.is_ready

    def send(self, frame: Any) -> None:
        self.sent.append(frame)


def _direct_round(
    socket: _Socket, results: int, interval_s: float = 0, before: Any = None, writer_frames: int = 0
) -> list[Any]:
    """A connection whose writer is idle is flushed ``results`` results (after ``before(conn)``);
    returns the frames its writer then sent (``writer_frames`` of them awaited, else none within 0.2 s)."""

    async def scenario() -> list[Any]:
        conn = Connection(LiveLimits(), interval_s=interval_s)
        conn.direct = socket
        writer = asyncio.create_task(_frames(conn, max(writer_frames, 1)))
        await asyncio.sleep(0.01)  # the writer waits to be woken
        if before is not None:
            before(conn)
        for seq in range(1, results + 1):
            conn.push(Entry(seq, "k", {"n": seq}), "s")
        conn.flush("abcd0123")
        if writer_frames:
            return await asyncio.wait_for(writer, 5)
        await asyncio.sleep(0.2)
        assert not writer.done()
        writer.cancel()
        return []

    return asyncio.run(scenario())


def test_a_round_is_sent_from_the_flush_when_the_writer_is_idle() -> None:
    socket = _Socket()
    assert _direct_round(socket, 3) == []  # the writer was not woken
    (batch,) = socket.sent
    assert [e["seq"] for e in batch.body["events"]] == [1, 2, 3] and batch.cursor == "abcd0123.3"


def test_the_writer_sends_what_the_flush_cannot() -> None:
    socket = _Socket(ready=False)  # the socket over its high-water mark
    (batch,) = _direct_round(socket, 2, writer_frames=1)
    assert socket.sent == [] and [e["seq"] for e in batch.body["events"]] == [1, 2]
    socket = _Socket()  # a reply first: it goes out before the results, by the writer
    reply, batch = _direct_round(socket, 2, before=lambda c: c.reply({"type": "subscribed"}), writer_frames=2)
    assert socket.sent == [] and reply.kind == "subscribed" and batch.events == 2
    socket = _Socket()  # more than a frame holds: the first from the flush, the rest by the writer
    (rest,) = _direct_round(socket, 601, writer_frames=1)
    assert [f.events for f in socket.sent] == [500] and [e["seq"] for e in rest.body["events"]] == list(range(501, 602))


def test_the_interval_holds_for_the_flush_too() -> None:
    socket = _Socket()
    started = time.monotonic()
    (batch,) = _direct_round(socket, 2, interval_s=0.3, writer_frames=1)  # the hello went out just now
    assert socket.sent == [] and batch.events == 2 and time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("params", "subprotocols", "why"),
    [
        ({"format": "xml"}, None, "invalid format"),
        ({"format": "xml"}, ["perfpulse.live.json"], "invalid format"),
        ({"interval_ms": "%C2%B2"}, None, "invalid interval_ms"),  # a digit to str.isdigit, not to int
        ({"interval_ms": "9" * 5000}, None, "invalid interval_ms"),
    ],
)
def test_a_bad_parameter_is_closed_with_why(
    server: tuple[str, FastAPI], params: dict[str, str], subprotocols: list[Any] | None, why: str
) -> None:
    address, _ = server
    with (
        connect(url(address, **params), subprotocols=subprotocols) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert why in closed.value.rcvd.reason


def test_a_frame_is_bounded_by_the_series_it_carries() -> None:
    async def scenario() -> list[Any]:
        conn = Connection(LiveLimits(), interval_s=0)
        for seq, series in enumerate([1_500, 400, 100, 1_999, 1, 2_000], start=1):
            conn.push(Entry(seq, "k", {"n": seq}, series=series), "s")
        conn.wake()
        return await _frames(conn, 3)

    frames = asyncio.run(scenario())
    assert [[e["seq"] for e in f.body["events"]] for f in frames] == [[1, 2, 3], [4, 5], [6]]


@pytest.mark.parametrize(("max_queue", "resumed"), [(10, True), (5, False)])
def test_a_resume_replays_only_what_a_client_may_hold(
    server: tuple[str, FastAPI], module_settings: Settings, max_queue: int, resumed: bool
) -> None:
    _, app = server
    metric = fresh_metric()
    live = LiveHub(app.state.api.store, 1_000, module_settings.redis_url, "unheard", LiveLimits(max_queue=max_queue))
    sub = QuerySub.model_validate(query_sub(metric))
    gone = live.open(0)
    live.subscribe(gone, [sub], None)
    live.close(gone)
    windows = [store_window(app, metric, BASE_MS + 50_000 + i * 1_000) for i in range(6)]
    assert asyncio.run(live.stored(windows, time.time_ns() // 1_000_000)) == 6
    back = live.open(0)
    refusal = live.subscribe(back, [sub], Cursor(stream=live.stream, seq=0))
    if resumed:
        assert refusal is None
        (batch,) = asyncio.run(_frames(back, 1))
        assert [e["window"]["start"] for e in batch.body["events"]] == [w.start_ms for w in windows]
    else:
        assert refusal is not None and "6 results were missed" in refusal


def test_a_client_not_reading_its_replies_is_closed() -> None:
    async def scenario() -> list[Any]:
        conn = Connection(LiveLimits(), interval_s=0)
        for n in range(65):
            conn.reply({"type": "error", "n": n})
        return await _frames(conn, 65)

    frames = asyncio.run(scenario())
    assert [f.body["n"] for f in frames[:64]] == list(range(64))
    assert frames[64].kind == "close" and "64 replies waiting" in frames[64].body["reason"]
