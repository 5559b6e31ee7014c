"""The live feed's hub: one per API process. It hears the sink's stored-windows messages on Redis
(one subscriber per process), computes each affected distinct subscription once, numbers every
result in one sequence, keeps the last minutes of results for resuming clients, and fans them out to
the connections' bounded queues. Everything but the queries runs on the event loop without awaiting
between reading the log and registering a connection, so a resumed client sees no gap and no repeat.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.livefeed_encode import FrameCache, encode_result
from api.livefeed_metrics import CLOSED, RESULT_QUERIES, RESULT_SECONDS, STORED_MESSAGES
from api.livefeed_subs import (
    AlertsSub,
    Cell,
    QuerySub,
    ServicesSub,
    cells_of,
    query_results,
    red_result,
    runs,
    shape_key,
    spec_key,
)
from api.livefeed_wire import Cursor, Format, LiveInputError, encode
from schemas.events import StoredWindow, decode_stored
from storage import Store, StoreError
from storage.alerts import HistoryKey, HistoryQuery, alert_history

__all__ = ["Connection", "DirectSend", "Entry", "Frame", "LiveFull", "LiveHub", "LiveLimits"]

log = logging.getLogger("perfpulse.api.live")

Sub = QuerySub | ServicesSub | AlertsSub
_Result = tuple[str, Cell, dict[str, Any], bool]  # a subscription's key, its cell, the result, whether cut
MAX_EVENTS_PER_FRAME = 500  # a batch frame carries at most this many results; the rest follow at once
MAX_REPLIES = 64  # control replies waiting for one client; past it the client is closed
MAX_FRAME_SERIES = 2_000  # ... and at most this many series (a result has up to 1,000): frames stay ~1 MB
LOG_MAX_ENTRIES = 200_000  # results kept for resuming, whatever their age
QUERY_SLOTS = 2  # result queries run at once (this machine has two cores; the API serves requests too)
ALERTS_POLL_S = 1.0  # alert transitions are read this often while someone subscribes to them
ALERTS_LOOKBACK_MS = 5 * 60_000  # transitions evaluated this long ago may still be written (late windows)
ALERTS_PAGE = 1_000  # transitions read per poll
REDIS_RETRY_S = 1.0
COALESCE_MAX = 1_000  # stored-windows messages taken as one while the previous were being computed
MAX_METRICS_PER_QUERY = 50  # query subscriptions of one shape computed by one query (each up to 1,000 series)


@dataclass(frozen=True, slots=True)
class LiveLimits:
    max_connections: int = 10_000  # per API process
    max_subscriptions: int = 50  # per connection
    max_queries: int = 1_000  # distinct subscriptions per process: each is computed per stored window
    max_queue: int = 10_000  # results waiting for one connection; past it the client is closed (it may resume)
    resume_s: float = 300.0  # results kept for resuming clients
    heartbeat_s: float = 15.0  # a heartbeat frame when nothing else went out for this long
    timeout_s: float = 45.0  # a WebSocket client silent for this long is closed
    # Results of a round wait at most this long for the rest of it: each flush is a frame to every
    # connection concerned, so when queries are slow, flushing often multiplies frames and slows
    # the next round (0.25 s: 2.3 results per frame at 1,000 clients on a loaded machine).
    flush_s: float = 1.0


class LiveFull(Exception):
    """No more connections in this process; the message says how many there are."""


@dataclass(slots=True)
class Entry:
    """One result, numbered: ``body`` is the event without ``sub`` and ``seq`` (added per client)."""

    seq: int
    key: str  # the subscription's spec_key
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)  # when it was computed
    series: int = 1  # its size, in series (services), what bounds a frame
    _encoded: dict[Format, bytes] = field(default_factory=dict)

    def encoded(self, fmt: Format) -> bytes:
        """``body`` in ``fmt``, encoded once whatever the connections it goes to."""
        found = self._encoded.get(fmt)
        if found is None:
            found = self._encoded[fmt] = encode_result(self.body, fmt)
        return found


@dataclass(slots=True)
class Frame:
    """What a connection sends next: ``kind`` ``batch``, ``heartbeat``, a control reply or ``close``.
    A batch is its results (``taken``: entry and the client's id) and ``cursor``; its dict ``body``
    is made only when asked (SSE, tests): WebSocket frames are spliced from the shared encodings."""

    kind: str
    control: dict[str, Any] | None = None  # the body of any frame but a batch
    taken: list[tuple[Entry, str]] = field(default_factory=list)
    cursor: str = ""
    oldest: float | None = None  # monotonic time of the oldest result in a batch (send lag)

    @property
    def events(self) -> int:
        return len(self.taken)

    @property
    def body(self) -> dict[str, Any]:
        if self.control is not None:
            return self.control
        events = [{"sub": sub_id, "seq": entry.seq, **entry.body} for entry, sub_id in self.taken]
        return {"type": "batch", "cursor": self.cursor, "events": events}


class DirectSend(Protocol):
    """A transport that can send a frame without awaiting: the hub then sends a round's batch from
    its flush, in one pass over the connections, instead of waking each connection's writer task
    for it (at 1,000 connections the mean send lag went from 50 to 31-38 ms)."""

    def ready(self) -> bool:
        """Whether :meth:`send` would write at once (the socket is open and not over its high-water mark)."""

    def send(self, frame: Frame) -> None:
        """Write ``frame`` now (only after :meth:`ready` said so)."""


class Connection:
    """One client: its subscriptions (client id -> spec key) and its bounded queue of results."""

    def __init__(self, limits: LiveLimits, interval_s: float) -> None:
        self.limits = limits
        self.interval_s = interval_s  # at most one batch frame per interval
        self.subs: dict[str, str] = {}
        self.last_seq = 0  # the sequence of the last result taken for sending
        self.sending_since: float | None = None  # monotonic; set by the transport while a frame is sent
        self.closing: tuple[int, str] | None = None  # (WebSocket close code, why) once decided
        self.direct: DirectSend | None = None  # set by a transport that can send without awaiting
        self._queue: deque[tuple[Entry, str]] = deque()
        self._control: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._beat_due = False  # a heartbeat is to go out (set by the connection's timer)
        self._sent_at = time.monotonic()  # when the last batch went out (the transport's hello, at first)
        self._idle = False  # the writer waits to be woken: nothing of this client is being sent

    def push(self, entry: Entry, sub_id: str) -> None:
        """Queue a result; it goes out after :meth:`wake` (the hub wakes once per round, not per result)."""
        if self.closing is not None:
            return
        if len(self._queue) >= self.limits.max_queue:
            why = f"slow consumer: {len(self._queue)} results waiting; reconnect with the last cursor to resume"
            self.close(1013, why, "slow_consumer")
            return
        self._queue.append((entry, sub_id))

    def wake(self) -> None:
        self._wake.set()

    def flush(self, stream: str) -> None:
        """Results were pushed: send them at once through :attr:`direct` when nothing else is due
        first (the writer idle, no reply, close or heartbeat waiting, the interval over, the socket
        ready), else wake the writer, which sends them in order."""
        direct = self.direct
        if (
            direct is not None
            and self._idle
            and self._queue
            and not self._control
            and self.closing is None
            and not self._beat_due
            and time.monotonic() >= self._sent_at + self.interval_s
            and direct.ready()
        ):
            self._sent_at = time.monotonic()
            direct.send(self._batch(stream, self._sent_at))  # wakes the writer for what did not fit
        else:
            self._wake.set()

    def reply(self, body: dict[str, Any]) -> None:
        """A control frame (``subscribed``, ``error``), sent before any waiting result."""
        if len(self._control) >= MAX_REPLIES:  # a client sending without reading the answers
            self.close(1013, f"slow consumer: {len(self._control)} replies waiting", "slow_consumer")
            return
        self._control.append(body)
        self._wake.set()

    def close(self, code: int, why: str, reason: str) -> None:
        """Close after what is being sent (``reason``: the label counted on /metrics)."""
        if self.closing is None:
            self.closing = (code, why)
            CLOSED.labels(reason).inc()
        self._wake.set()

    async def frames(self, stream: str, current: Sequence[int]) -> AsyncIterator[Frame]:
        """The frames to send, until the connection is to close (a last ``close`` frame says why).
        ``current[0]``: the hub's last sequence, for heartbeats."""
        self._sent_at = time.monotonic()  # the transport sent its hello
        # A timer wakes the connection when a heartbeat is due: one per heartbeat, not one per wait.
        loop = asyncio.get_running_loop()
        beat = loop.call_later(self.limits.heartbeat_s, self._beat)
        try:
            while True:
                self._idle = True
                await self._wake.wait()
                self._idle = False
                self._wake.clear()
                while self._control:
                    yield Frame(str(self._control[0]["type"]), self._control.popleft())
                if self.closing is not None:
                    yield Frame("close", {"type": "close", "code": self.closing[0], "reason": self.closing[1]})
                    return
                if self._beat_due:
                    # Every heartbeat_s whether results flow or not: a client answers heartbeats, and
                    # one given only batches would be closed as silent.
                    self._beat_due = False
                    beat = loop.call_later(self.limits.heartbeat_s, self._beat)
                    # Nothing of this client waiting: every result up to the hub's last is behind it.
                    seq = self.last_seq if self._queue else max(current[0], self.last_seq)
                    yield Frame("heartbeat", {"type": "heartbeat", "cursor": f"{stream}.{seq}"})
                if self._queue:
                    self._sent_at = await self._wait_interval(self._sent_at)
                    yield self._batch(stream, self._sent_at)
        finally:
            self._idle = False
            beat.cancel()

    def _beat(self) -> None:
        self._beat_due = True
        self._wake.set()

    async def _wait_interval(self, sent_at: float) -> float:
        """Wait out the interval since the last batch (what arrives meanwhile joins it); returns now."""
        wait = sent_at + self.interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return time.monotonic()

    def _batch(self, stream: str, sent_at: float) -> Frame:
        """The next batch from the queue, bounded in results and series; the rest wakes the sender again."""
        taken = [self._queue.popleft()]
        series = taken[0][0].series
        while (
            self._queue and len(taken) < MAX_EVENTS_PER_FRAME and series + self._queue[0][0].series <= MAX_FRAME_SERIES
        ):
            series += self._queue[0][0].series
            taken.append(self._queue.popleft())
        self.last_seq = taken[-1][0].seq
        if self._queue:
            self._wake.set()
        return Frame("batch", taken=taken, cursor=f"{stream}.{self.last_seq}", oldest=taken[0][0].at)


@dataclass(slots=True)
class _Shared:
    """One distinct subscription and who holds it (connection -> its ids for it)."""

    spec: Sub
    shape: str | None  # a query subscription's shape_key: those of one shape are computed together
    members: dict[Connection, set[str]] = field(default_factory=dict)
    # A client that left may come back and resume: its subscriptions are computed until then
    # (monotonic seconds), so that the log holds what it missed.
    linger_until: float = 0.0


class LiveHub:
    """Built by the composition root with the store and the stored-windows channel; :meth:`start`
    in the API's lifespan, :meth:`stop` at its end."""

    def __init__(self, store: Store, window_ms: int, redis_url: str, channel: str, limits: LiveLimits) -> None:
        self.store = store
        self.window_ms = window_ms
        self.channel = channel
        self.limits = limits
        self.stream = secrets.token_hex(4)  # this run's sequence; a cursor of another run cannot resume
        self.connections: set[Connection] = set()
        self._redis_url = redis_url
        self._keys: dict[str, _Shared] = {}
        self._log: deque[Entry] = deque()
        self._seq = [0]  # a list: connections read the current value for their heartbeats
        self._trimmed = 0  # the highest sequence no longer in the log
        self._gap_seq = 0  # the sequence when the channel was heard again after an outage
        self._alerts_from: int | None = None  # epoch ms alerts have been watched since (None: not watched)
        self._slots = asyncio.Semaphore(QUERY_SLOTS)
        self._tasks: list[asyncio.Task[None]] = []
        self._frames = FrameCache()
        self._woken: set[Connection] = set()  # connections given results since the last flush

    @property
    def seq(self) -> int:
        return self._seq[0]

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._poll_alerts())]

    async def stop(self) -> None:
        for conn in list(self.connections):
            conn.close(1012, "the server is stopping; reconnect with the last cursor", "server_stopping")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- connections

    def open(self, interval_s: float) -> Connection:
        if len(self.connections) >= self.limits.max_connections:
            raise LiveFull(f"{len(self.connections)} live connections, the most this process serves")
        conn = Connection(self.limits, interval_s)
        self.connections.add(conn)
        return conn

    def close(self, conn: Connection) -> None:
        """``conn`` left; its subscriptions stay computed for ``resume_s`` (it may resume)."""
        self.connections.discard(conn)
        self._drop(conn, list(conn.subs), time.monotonic() + self.limits.resume_s)

    def frames(self, conn: Connection) -> AsyncIterator[Frame]:
        return conn.frames(self.stream, self._seq)

    def encode(self, frame: Frame, fmt: Format) -> str | bytes:
        """``frame`` in ``fmt`` (a str for a text frame): batches of the same results under the same
        ids are encoded once for all the connections that send them."""
        if frame.control is not None:
            return encode(frame.control, fmt)
        events = [(sub_id, entry.seq, entry.encoded(fmt)) for entry, sub_id in frame.taken]
        return self._frames.batch(frame.cursor, events, fmt)

    def subscribe(self, conn: Connection, subs: Sequence[Sub], resume: Cursor | None) -> str | None:
        """Add ``subs`` to ``conn``; with ``resume``, first queue the results of those subscriptions
        it missed since that cursor. Returns why it could not resume (None: resumed or not asked);
        :class:`LiveInputError` when a subscription cannot be taken (nothing is then added)."""
        keys = self._check(conn, subs)
        refusal = self._refusal(resume) if resume is not None else None
        if resume is not None and refusal is None:
            ids_of: dict[str, list[str]] = {}
            for sub, key in zip(subs, keys, strict=True):
                ids_of.setdefault(key, []).append(sub.id)
            missed = [(e, sub_id) for e in self._log if e.seq > resume.seq for sub_id in ids_of.get(e.key, ())]
            if len(missed) > self.limits.max_queue:  # more than a connection may hold: it would be closed at once
                refusal = (
                    f"{len(missed)} results were missed, more than the {self.limits.max_queue} a client may wait for"
                )
            for entry, sub_id in missed if refusal is None else ():
                conn.push(entry, sub_id)
            conn.wake()
        if self._alerts_from is None and any(isinstance(sub, AlertsSub) for sub in subs):
            self._alerts_from = time.time_ns() // 1_000_000
        for sub, key in zip(subs, keys, strict=True):
            conn.subs[sub.id] = key
            if key not in self._keys:
                self._keys[key] = _Shared(sub, shape_key(sub) if isinstance(sub, QuerySub) else None)
            self._keys[key].members.setdefault(conn, set()).add(sub.id)
        return refusal

    def _check(self, conn: Connection, subs: Sequence[Sub]) -> list[str]:
        self._prune()
        details: list[dict[str, str]] = []
        ids = [s.id for s in subs]
        for i, sub in enumerate(subs):
            if sub.id in conn.subs or ids.index(sub.id) != i:
                details.append({"loc": f"subscriptions.{i}.id", "msg": f"{sub.id!r} is already subscribed"})
            if isinstance(sub, QuerySub):
                try:
                    sub.step_ms(self.window_ms)
                except ValueError as exc:
                    details.append({"loc": f"subscriptions.{i}.step", "msg": str(exc)})
        total = len(conn.subs) + len(subs)
        if total > self.limits.max_subscriptions:
            msg = f"{total} subscriptions on this connection; at most {self.limits.max_subscriptions}"
            details.append({"loc": "subscriptions", "msg": msg})
        keys = [spec_key(s) for s in subs]
        new = {k for k in keys if k not in self._keys}
        if len(self._keys) + len(new) > self.limits.max_queries:
            msg = f"this server computes {len(self._keys)} distinct subscriptions, at most {self.limits.max_queries}"
            details.append({"loc": "subscriptions", "msg": msg + "; share or drop some"})
        if details:
            raise LiveInputError("cannot subscribe", details)
        return keys

    def _gap(self) -> None:
        """Stored windows may have been published while the channel was not heard: tell every client,
        and refuse resuming from before now (the log cannot have what was never computed)."""
        self._seq[0] += 1  # a number of its own: a cursor before it cannot resume, one after it can
        self._gap_seq = self.seq
        why = (
            "stored windows may have been missed while Redis could not be heard; reload the range by GET /api/v1/query"
        )
        for conn in self.connections:
            conn.reply({"type": "gap", "cursor": f"{self.stream}.{self.seq}", "reason": why})

    def _refusal(self, resume: Cursor) -> str | None:
        if resume.stream != self.stream:
            why = "it restarted, or this is another API process"
            return f"stream {resume.stream} is not this server's {self.stream} ({why})"
        if resume.seq > self.seq:
            return f"sequence {resume.seq} is ahead of this stream's last, {self.seq}"
        if resume.seq < self._gap_seq:
            return f"stored windows after {resume.seq} may have been missed (Redis could not be heard)"
        if resume.seq < self._trimmed:
            return f"results after {resume.seq} are no longer kept (the last {self.limits.resume_s:.0f} s are)"
        return None

    def unsubscribe(self, conn: Connection, ids: Sequence[str]) -> list[str]:
        """Drop ``ids`` from ``conn``; returns those it had."""
        return self._drop(conn, ids, 0.0)

    def _drop(self, conn: Connection, ids: Sequence[str], linger_until: float) -> list[str]:
        dropped = []
        for sub_id in ids:
            key = conn.subs.pop(sub_id, None)
            if key is None:
                continue
            dropped.append(sub_id)
            shared = self._keys[key]
            held = shared.members[conn]
            held.discard(sub_id)
            if not held:
                del shared.members[conn]
            shared.linger_until = max(shared.linger_until, linger_until)
            if not shared.members and shared.linger_until <= time.monotonic():
                del self._keys[key]
        return dropped

    def _prune(self) -> None:
        """Forget subscriptions nobody holds whose departed clients can no longer resume."""
        now = time.monotonic()
        for key in [k for k, s in self._keys.items() if not s.members and s.linger_until <= now]:
            del self._keys[key]

    # --- results

    def _publish(self, key: str, body: dict[str, Any]) -> None:
        shared = self._keys.get(key)
        if shared is None:  # unsubscribed while its result was computed
            return
        self._seq[0] += 1
        data = body.get("data", {})
        entry = Entry(self.seq, key, body, series=max(1, len(data.get("series", data.get("services", ())))))
        self._log.append(entry)
        horizon = entry.at - self.limits.resume_s
        while self._log and (self._log[0].at < horizon or len(self._log) > LOG_MAX_ENTRIES):
            self._trimmed = self._log.popleft().seq
        for conn, ids in shared.members.items():
            for sub_id in sorted(ids):
                conn.push(entry, sub_id)
        self._woken.update(shared.members)

    def _flush(self) -> None:
        """Send to the connections given results since the last flush: one frame each for all of them."""
        for conn in self._woken:
            conn.flush(self.stream)
        self._woken.clear()

    async def stored(self, windows: Sequence[StoredWindow], at_ms: int) -> int:
        """Compute and push the results of every subscription ``windows`` touched; returns how many."""
        self._prune()
        # Query subscriptions of one shape (all but the metric) are computed by one query per run of
        # cells, at most MAX_METRICS_PER_QUERY metrics each; services ones cell by cell.
        shapes: dict[str, dict[tuple[Cell, ...], list[tuple[str, QuerySub]]]] = {}
        services: list[tuple[str, ServicesSub, list[Cell]]] = []
        for key, shared in self._keys.items():
            if isinstance(shared.spec, QuerySub) and shared.shape is not None:
                for run in runs(cells_of(shared.spec, windows, self.window_ms)):
                    shapes.setdefault(shared.shape, {}).setdefault(tuple(run), []).append((key, shared.spec))
            elif isinstance(shared.spec, ServicesSub):
                services.append((key, shared.spec, cells_of(shared.spec, windows, self.window_ms)))
        # A round's results go out together, at most flush_s after the first: a client subscribed to
        # many gets one frame for them (and all its subscribers share its encoding), not one each;
        # a subscription's in window order (a shape's runs one after the other, oldest first).
        jobs = [self._queries(by_run, at_ms) for by_run in shapes.values()]
        jobs += [self._services(key, spec, cells, at_ms) for key, spec, cells in services if cells]
        computing = {asyncio.create_task(job) for job in jobs}
        published = 0
        try:
            while computing:
                done, computing = await asyncio.wait(computing, timeout=self.limits.flush_s)
                published += sum(task.result() for task in done)
                self._flush()
        finally:
            for task in computing:
                task.cancel()
        return published

    async def _queries(self, by_run: dict[tuple[Cell, ...], list[tuple[str, QuerySub]]], at_ms: int) -> int:
        """The results of one shape's subscriptions, run by run, oldest first."""
        published = 0
        for run, members in sorted(by_run.items(), key=lambda item: item[0][0].start_ms):
            for i in range(0, len(members), MAX_METRICS_PER_QUERY):
                part = members[i : i + MAX_METRICS_PER_QUERY]
                published += await self._answer("query", functools.partial(self._query, part, run), run, at_ms)
        return published

    async def _services(self, key: str, spec: ServicesSub, cells: list[Cell], at_ms: int) -> int:
        """The results of a services subscription, cell by cell, oldest first."""
        published = 0
        for cell in cells:
            published += await self._answer("services", functools.partial(self._red, key, spec, cell), (cell,), at_ms)
        return published

    def _query(self, part: list[tuple[str, QuerySub]], run: tuple[Cell, ...]) -> list[_Result]:
        key_of = {spec.metric: key for key, spec in part}
        found = query_results(self.store, [spec for _, spec in part], run, self.window_ms)
        return [(key_of[sub.metric], cell, data, cut) for sub, cell, data, cut in found]

    def _red(self, key: str, spec: ServicesSub, cell: Cell) -> list[_Result]:
        return [(key, cell, red_result(self.store, spec, cell, self.window_ms), False)]

    async def _answer(self, kind: str, compute: Callable[[], list[_Result]], cells: Sequence[Cell], at_ms: int) -> int:
        """Run ``compute`` (blocking: in a thread, :data:`QUERY_SLOTS` at a time) and publish what it
        found; returns how many, 0 when the store could not answer (logged)."""
        began = time.monotonic()
        async with self._slots:
            RESULT_QUERIES.labels(kind).inc()
            try:
                found = await asyncio.to_thread(compute)
            except StoreError as exc:
                log.warning("cannot compute a live result for %s: %s", list(cells), exc)
                return 0
            except Exception:  # a defect in one result must not stop the feed of every client
                log.exception("cannot compute a live result for %s", list(cells))
                return 0
        RESULT_SECONDS.observe(time.monotonic() - began)
        for key, cell, data, cut in found:
            window = {"start": cell.start_ms, "end": cell.end_ms}
            body = {"window": window, "late": cell.late, "stored_at": at_ms, "truncated": cut, "data": data}
            self._publish(key, body)
        return len(found)

    async def _listen(self) -> None:
        """Hear the stored-windows channel; Redis down is logged once and retried until it is back."""
        client = aioredis.Redis.from_url(self._redis_url, client_name=f"perfpulse-live-{self.stream}")
        failing = False
        try:
            while True:
                try:
                    async with client.pubsub() as pubsub:
                        await pubsub.subscribe(self.channel)
                        if failing:
                            log.info("live feed: listening to %s again", self.channel)
                            failing = False
                            self._gap()
                        while True:
                            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                            heard: list[Any] = []
                            while message is not None and len(heard) < COALESCE_MAX:
                                heard.append(message["data"])
                                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.0)
                            if message is not None:
                                heard.append(message["data"])
                            if heard:
                                await self._heard(heard)
                except (RedisError, OSError) as exc:
                    if not failing:
                        log.warning("live feed: cannot listen to %s, retrying every %.0f s: %s",
                                    self.channel, REDIS_RETRY_S, exc)  # fmt: skip
                        failing = True
                    await asyncio.sleep(REDIS_RETRY_S)
        finally:
            await client.aclose()

    async def _heard(self, messages: list[Any]) -> None:
        """The messages that arrived while the previous ones were computed, as one: a cell stored
        twice meanwhile is computed once, and a burst of inserts does not build a backlog. Results
        carry the earliest message's time (latency is never understated)."""
        cells: dict[tuple[str, str, int, int], bool] = {}
        first_ms: int | None = None
        for data in messages:
            try:
                stored = decode_stored(data if isinstance(data, bytes) else str(data).encode())
            except ValueError as exc:
                STORED_MESSAGES.labels("unreadable").inc()
                log.warning("live feed: %s", exc)
                continue
            STORED_MESSAGES.labels("read").inc()
            if not stored.windows:
                continue  # spans stored: nothing the live feed sends
            first_ms = stored.at_ms if first_ms is None else min(first_ms, stored.at_ms)
            for w in stored.windows:
                cell = (w.metric, w.service, w.start_ms, w.window_ms)
                cells[cell] = cells.get(cell, False) or w.late
        if first_ms is not None:
            await self.stored([StoredWindow(*cell, late) for cell, late in cells.items()], first_ms)

    async def _poll_alerts(self) -> None:
        """Alert transitions reach ClickHouse by the sink's own flush, with no stored-windows message:
        they are read every :data:`ALERTS_POLL_S` while someone subscribes to alerts. News are the
        transitions evaluated since alerts were first watched (``_alerts_from``), each sent once."""
        seen: dict[HistoryKey, int] = {}  # transition -> its time, epoch ms
        while True:
            await asyncio.sleep(ALERTS_POLL_S)
            watching = {k: s.spec for k, s in self._keys.items() if isinstance(s.spec, AlertsSub)}
            if not watching:
                seen.clear()
                self._alerts_from = None
                continue
            since = max(self._alerts_from or 0, time.time_ns() // 1_000_000 - ALERTS_LOOKBACK_MS)
            try:
                page = await asyncio.to_thread(
                    alert_history, self.store, HistoryQuery(since_ms=since, limit=ALERTS_PAGE)
                )
            except StoreError as exc:
                log.warning("live feed: cannot read alert transitions: %s", exc)
                continue
            except Exception:  # the next poll tries again; alerts must not stop for good
                log.exception("live feed: cannot read alert transitions")
                continue
            fresh = sorted((e for e in page.entries if e.key not in seen), key=lambda e: e.key)
            seen.update((e.key, e.at_ms) for e in fresh)
            seen = {k: at for k, at in seen.items() if at >= since}
            now_ms = time.time_ns() // 1_000_000
            for entry in fresh:
                for key, spec in watching.items():
                    if (spec.rule is None or spec.rule == entry.rule) and (
                        not spec.state or entry.state in {s.value for s in spec.state}
                    ):
                        body = {"window": None, "late": False, "stored_at": now_ms, "data": entry.to_dict()}
                        self._publish(key, {**body, "truncated": False})
            self._flush()
