"""The emitter's background thread: drains the emitter's buffers and sends their records to Kafka.

A daemon thread owns an asyncio loop and a :class:`~ingest.producer.RecordProducer`. It drains
every buffer (points, spans, log records: one :class:`Lane` each) into records every ``linger_ms``,
or sooner when woken, and sends them, at most ``_MAX_IN_FLIGHT`` at once; while Kafka is
unavailable the records stay buffered and are tried again with exponential backoff. The caller's
event loop, if any, is never touched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from schemas import Topics
from schemas.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["Lane", "Outbox", "Sender"]

log = logging.getLogger("perfpulse.ingest.sdk.emitter")

_MAX_IN_FLIGHT: Final = 32  # records awaiting acknowledgement at once
# How long a record handed to Kafka may wait for its acknowledgement. Long on purpose: until then
# the producer retries it with its sequence number (no duplicate across a broker restart); after
# it, the record is sent again by a new producer, which could duplicate one the broker had written.
_ACK_PATIENCE_S: Final = 300.0
_MIN_BACKOFF_S: Final = 0.2
_MAX_BACKOFF_S: Final = 5.0


class _Item(Protocol):
    @property
    def n(self) -> int: ...  # points or items in the record


P = TypeVar("P", bound=_Item)


class Outbox(Protocol[P]):
    """What the sender needs of a buffer (:class:`~ingest.sdk.buffer.PointBuffer`,
    :class:`~ingest.sdk.recordbuffer.RecordBuffer`)."""

    @property
    def has_pending(self) -> bool: ...
    def drain(self) -> tuple[int, int]: ...
    def take(self) -> P | None: ...
    def requeue(self, failed: list[P]) -> None: ...
    def settle(self, item: P, acknowledged: bool, /) -> None: ...


@dataclass(frozen=True)
class Lane(Generic[P]):
    """One buffer the sender drains, and how one of its records is sent."""

    what: str  # what the records hold, for log lines: "points", "spans", "log records"
    buffer: Outbox[P]
    send: Callable[[RecordProducer, P, float], Awaitable[None]]  # (producer, record, timeout_s)


class Sender:
    """Sends the records of one buffer from a thread of its own; :meth:`start` it once.

    :meth:`wake`, :meth:`drain_soon` and :meth:`stop` may be called from any thread.
    """

    def __init__(
        self,
        service: str,
        lanes: Sequence[Lane[Any]],
        bootstrap: str,
        topics: Topics,
        *,
        linger_ms: float,
        request_timeout_s: float,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._lanes = list(lanes)
        self._next_lane = 0  # the lane _take looks at first
        self._bootstrap = bootstrap
        self._topics = topics
        self._security = security  # how the producer connects to Kafka (SASL, TLS)
        self._service = service
        self._linger_s = linger_ms / 1000.0
        self._request_timeout_s = request_timeout_s  # per attempt to reach Kafka
        self.last_error = "none yet"  # the last Kafka failure, for log messages
        # The thread's loop and its events (set from other threads via the loop).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None  # drain now
        self._stop: asyncio.Event | None = None  # leave the loop
        self._work: asyncio.Event | None = None  # records were built
        self._thread = threading.Thread(
            target=self._thread_main, name=f"perfpulse-emitter-{self._service}", daemon=True
        )
        self._ready = threading.Event()

    def start(self) -> None:
        """Start the thread and return once its loop runs (or the thread failed)."""
        self._thread.start()
        self._ready.wait()

    @property
    def running(self) -> bool:
        """Whether the loop was started and the thread is still alive."""
        return self._loop is not None and self._thread.is_alive()

    def is_alive(self) -> bool:
        """Whether the thread is still alive (it may not have started its loop)."""
        return self._thread.is_alive()

    def join(self, timeout: float | None) -> None:
        """Wait at most ``timeout`` seconds (None: as long as it takes) for the thread to end."""
        self._thread.join(timeout)

    def wake(self) -> None:
        """Drain now rather than at the end of the linger."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed: the emitter is closing
                loop.call_soon_threadsafe(wake.set)

    def drain_soon(self) -> concurrent.futures.Future[list[int]] | None:
        """Drain on the thread; the future gives, per lane, the seq after the last record built.
        None when the loop is gone."""
        loop = self._loop
        if loop is None:
            return None
        drained: concurrent.futures.Future[list[int]] = concurrent.futures.Future()
        try:
            loop.call_soon_threadsafe(self._drain_into, drained)
        except RuntimeError:  # the loop is closed
            return None
        return drained

    def stop(self) -> None:
        """Ask the thread to stop (records in flight are abandoned); :meth:`join` to wait for it."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the thread is gone
                loop.call_soon_threadsafe(self._begin_stop)

    # ------------------------------------------------------------------ on the thread

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception:
            log.exception("emitter thread of %s failed; points are dropped from now on", self._service)
        finally:
            self._ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake, self._stop, self._work = asyncio.Event(), asyncio.Event(), asyncio.Event()
        producer = RecordProducer(
            self._bootstrap, self._topics, client_id=f"perfpulse-emitter-{self._service}",
            request_timeout_s=self._request_timeout_s, security=self._security,
        )  # fmt: skip
        self._ready.set()
        sending = asyncio.create_task(self._send_loop(producer))
        try:
            while not self._stop.is_set():
                try:
                    async with asyncio.timeout(self._linger_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                if not self._stop.is_set():
                    self._drain()
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            await producer.stop(timeout_s=0.0)

    def _begin_stop(self) -> None:
        assert self._stop is not None and self._wake is not None
        self._stop.set()
        self._wake.set()

    def _drain_into(self, result: concurrent.futures.Future[list[int]]) -> None:
        try:
            result.set_result(self._drain())
        except BaseException as exc:
            result.set_exception(exc)
            raise

    def _drain(self) -> list[int]:
        """Build records of what is open in every lane; return, per lane, the seq after the last one
        built. A lane whose building fails (a bug) loses that drain's items and logs why."""
        uptos = []
        any_built = False
        for lane in self._lanes:
            try:
                built, upto = lane.buffer.drain()
            except Exception:
                log.exception("dropping %s of %s: cannot build records", lane.what, self._service)
                built, upto = lane.buffer.drain()  # nothing open any more: just the seq
            any_built = any_built or built > 0
            uptos.append(upto)
        if any_built and self._work is not None:
            self._work.set()
        return uptos

    def _has_pending(self) -> bool:
        return any(lane.buffer.has_pending for lane in self._lanes)

    def _take(self) -> tuple[Lane[Any], Any] | None:
        """The next record to send, taking from the lanes in turn (busy points never starve spans)."""
        n = len(self._lanes)
        for i in range(n):
            lane = self._lanes[(self._next_lane + i) % n]
            if (item := lane.buffer.take()) is not None:
                self._next_lane = (self._next_lane + i + 1) % n
                return lane, item
        return None

    async def _send_loop(self, producer: RecordProducer) -> None:
        """Send built records, up to ``_MAX_IN_FLIGHT`` at once; on failure requeue and back off."""
        assert self._work is not None and self._stop is not None
        in_flight: set[asyncio.Task[tuple[Lane[Any], Any] | None]] = set()
        backoff = _MIN_BACKOFF_S
        try:
            while not self._stop.is_set():  # not only cancellation: aiokafka may swallow one
                if not producer.started and self._has_pending():
                    # One connection attempt, not one per record, while Kafka is down.
                    try:
                        await producer.start()
                    except KafkaUnavailable as exc:
                        self.last_error = str(exc)
                        await self._backoff(backoff)
                        backoff = min(backoff * 2, _MAX_BACKOFF_S)
                        continue
                while len(in_flight) < _MAX_IN_FLIGHT and (taken := self._take()) is not None:
                    in_flight.add(asyncio.create_task(self._send_one(producer, *taken)))
                if not in_flight:
                    await self._work.wait()
                    self._work.clear()
                    continue
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                failed = [item for task in done if (item := task.result()) is not None]
                if not failed:
                    backoff = _MIN_BACKOFF_S
                    continue
                # Kafka is unavailable: the others fail fast too (their producer was discarded).
                if in_flight:
                    await asyncio.wait(in_flight)
                    failed += [item for task in in_flight if (item := task.result()) is not None]
                    in_flight = set()
                for lane in self._lanes:
                    lane.buffer.requeue([item for owner, item in failed if owner is lane])
                await self._backoff(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
        finally:
            for task in in_flight:
                task.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _backoff(self, seconds: float) -> None:
        """Sleep before the next attempt; cut short when the sender stops."""
        assert self._stop is not None
        try:
            async with asyncio.timeout(seconds):
                await self._stop.wait()
        except TimeoutError:
            pass

    async def _send_one(self, producer: RecordProducer, lane: Lane[Any], item: Any) -> tuple[Lane[Any], Any] | None:
        """Send one record; return it when Kafka is unavailable (to retry), else None (settled)."""
        acknowledged = False
        try:
            await lane.send(producer, item, _ACK_PATIENCE_S)
            acknowledged = True
        except KafkaUnavailable as exc:
            self.last_error = str(exc)
            log.debug("%s", exc)
            return lane, item
        except RecordRejected as exc:
            self.last_error = str(exc)
            log.error("dropping %d %s of %s: %s", item.n, lane.what, self._service, exc)
        except Exception as exc:  # a bug must not stop the sender: drop the record, say why
            self.last_error = repr(exc)
            log.exception("dropping %d %s of %s: cannot send", item.n, lane.what, self._service)
        lane.buffer.settle(item, acknowledged)
        return None
