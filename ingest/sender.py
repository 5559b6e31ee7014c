"""The emitter's background thread: drains a :class:`~ingest.buffer.PointBuffer` and sends to Kafka.

A daemon thread owns an asyncio loop and a :class:`~ingest.producer.RecordProducer`. It drains
the buffer into records every ``linger_ms``, or sooner when woken, and sends them, at most
``_MAX_IN_FLIGHT`` at once; while Kafka is unavailable the records stay buffered and are tried
again with exponential backoff. The caller's event loop, if any, is never touched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from typing import Final

from ingest.buffer import Pending, PointBuffer
from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from schemas import Topics

__all__ = ["Sender"]

log = logging.getLogger("perfpulse.ingest.emitter")

_MAX_IN_FLIGHT: Final = 32  # records awaiting acknowledgement at once
# How long a record handed to Kafka may wait for its acknowledgement. Long on purpose: until then
# the producer retries it with its sequence number (no duplicate across a broker restart); after
# it, the record is sent again by a new producer, which could duplicate one the broker had written.
_ACK_PATIENCE_S: Final = 300.0
_MIN_BACKOFF_S: Final = 0.2
_MAX_BACKOFF_S: Final = 5.0


class Sender:
    """Sends the records of one buffer from a thread of its own; :meth:`start` it once.

    :meth:`wake`, :meth:`drain_soon` and :meth:`stop` may be called from any thread.
    """

    def __init__(
        self,
        buffer: PointBuffer,
        bootstrap: str,
        topics: Topics,
        *,
        linger_ms: float,
        request_timeout_s: float,
    ) -> None:
        self._buffer = buffer
        self._bootstrap = bootstrap
        self._topics = topics
        self._service = buffer.service
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

    def drain_soon(self) -> concurrent.futures.Future[int] | None:
        """Drain on the thread; the future gives the seq after the last record built. None when the
        loop is gone."""
        loop = self._loop
        if loop is None:
            return None
        drained: concurrent.futures.Future[int] = concurrent.futures.Future()
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
            request_timeout_s=self._request_timeout_s,
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

    def _drain_into(self, result: concurrent.futures.Future[int]) -> None:
        try:
            result.set_result(self._drain())
        except BaseException as exc:
            result.set_exception(exc)
            raise

    def _drain(self) -> int:
        """Build records of the open points; return the seq after the last one built."""
        built, upto = self._buffer.drain()
        if built and self._work is not None:
            self._work.set()
        return upto

    async def _send_loop(self, producer: RecordProducer) -> None:
        """Send built records, up to ``_MAX_IN_FLIGHT`` at once; on failure requeue and back off."""
        assert self._work is not None and self._stop is not None
        buffer = self._buffer
        in_flight: set[asyncio.Task[Pending | None]] = set()
        backoff = _MIN_BACKOFF_S
        try:
            while not self._stop.is_set():  # not only cancellation: aiokafka may swallow one
                if not producer.started and buffer.has_pending:
                    # One connection attempt, not one per record, while Kafka is down.
                    try:
                        await producer.start()
                    except KafkaUnavailable as exc:
                        self.last_error = str(exc)
                        await self._backoff(backoff)
                        backoff = min(backoff * 2, _MAX_BACKOFF_S)
                        continue
                while len(in_flight) < _MAX_IN_FLIGHT and (item := buffer.take()) is not None:
                    in_flight.add(asyncio.create_task(self._send_one(producer, item)))
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
                buffer.requeue(failed)
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

    async def _send_one(self, producer: RecordProducer, item: Pending) -> Pending | None:
        """Send one record; return it when Kafka is unavailable (to retry), else None (settled)."""
        acknowledged = False
        try:
            await producer.send_metrics([item.batch], timeout_s=_ACK_PATIENCE_S)
            acknowledged = True
        except KafkaUnavailable as exc:
            self.last_error = str(exc)
            log.debug("%s", exc)
            return item
        except RecordRejected as exc:
            self.last_error = str(exc)
            log.error("dropping %d points of %s: %s", item.n, self._service, exc)
        except Exception as exc:  # a bug must not stop the sender: drop the record, say why
            self.last_error = repr(exc)
            log.exception("dropping %d points of %s: cannot send", item.n, self._service)
        self._buffer.settle(item, acknowledged)
        return None
