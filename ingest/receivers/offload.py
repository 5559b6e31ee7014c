"""Ingest work off the event loop and out of the API process's GIL, under a concurrency limit.

Inflating, parsing, validating, redacting and encoding a request body is CPU work linear in the
body (up to 16 MiB). On the event loop it would stall every other request of the process; on a
thread it still would, for pydantic and orjson hold the GIL for their whole call (``/healthz`` took
0.47 s to answer during a 16 MiB body that way). :class:`IngestWorkers` therefore runs the work of a
body larger than ``inline_bytes`` (or gzipped: its inflated size is unknown) in worker processes,
as a pure function of the body's bytes returning Kafka record bytes
(:mod:`ingest.receivers.encode`); a small body stays on a thread, where the work costs less than
shipping it to a process.

A request holds a slot from before its body is read until its records are made, so at most ``slots``
bodies are being read or worked on at once. Up to ``queue`` more wait for a slot, in arrival order,
at most ``wait_s`` each, before their bodies are read (a waiter costs its connection and what
uvicorn reads ahead of the body, 64 KiB at most): a burst of small batches from many clients is
taken, not refused (256 waiting at most filled up in the load test's stress scenario, 1,000 users of
whom a fifth post at a time: 132-329 refused in each of 3 runs; 1,024: none in 2). Past that a
request is refused (:class:`Busy`, answered 503 with ``Retry-After``) rather than queued without
bound: at once when the queue is full, after ``wait_s`` when no slot freed. A request whose records
are made gives its slot back while they wait for Kafka (:meth:`IngestWorkers.sending`), their bytes
counted against ``pending_bytes`` instead: the wait is a Kafka commit shared by every request
waiting then (:mod:`ingest.groupcommit`), and a slot held through it let at most ``slots`` requests
share one (8 slots: ingest p50 252 ms in the load test's normal scenario, ~220 ms of it waiting for
a slot). Worker processes start on first use (``spawn``: a fresh interpreter; ``fork`` would copy
the event loop's threads and locks mid-use). When one dies, the requests it held get
:class:`WorkerDied` and a new pool takes the next request.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import Concatenate, ParamSpec, TypeVar

from ingest.receivers.inflate import RawBody

__all__ = [
    "BUSY_RETRY_AFTER_S",
    "INLINE_BYTES",
    "PENDING_BYTES",
    "WAITING",
    "Busy",
    "IngestWorkers",
    "Processes",
    "Slot",
    "WorkerDied",
]

P = ParamSpec("P")
T = TypeVar("T")

BUSY_RETRY_AFTER_S = 1  # a slot frees as soon as one request is answered
INLINE_BYTES = 64 * 1024  # bodies up to this size (not gzipped) are worked on a thread
PENDING_BYTES = 64 * 1024 * 1024  # bodies and records of the requests waiting for Kafka, at most
WAITING = 1024  # requests waiting for a slot, at most (see the module doc)
WORKER_NICENESS = 10  # added to a worker process's niceness: the API process's loop comes first


class Busy(Exception):
    """Every slot is taken and the queue is full, or no slot freed in time: the request is refused
    before its body is read."""


class WorkerDied(Exception):
    """The worker process holding a request's work ended (killed, out of memory, crashed)."""


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _start_worker(initializer: Callable[..., object] | None, *args: object) -> None:
    """Runs first in each worker process: lowers its priority by :data:`WORKER_NICENESS`, starts a
    thread that ends the process when its parent ends, then runs the pool's ``initializer(*args)``.

    The priority: a worker parses for seconds, the API's event loop needs a few milliseconds at a
    time; on a busy machine the scheduler then gives the loop the CPU first (at the same priority
    ``/healthz`` waited up to 250 ms behind two workers on two cores). The thread: without it a
    worker outlives an API process killed by SIGKILL (or the OOM killer), waiting forever on a queue
    whose other end it holds open itself."""
    os.nice(WORKER_NICENESS)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), name="parent-watch", daemon=True).start()
    if initializer is not None:
        initializer(*args)


class Processes:
    """``size`` worker processes, started on first use and replaced when one dies.

    ``initializer(*initargs())`` runs in each new process (``initargs`` is asked at each start, so
    a replacement may start from other arguments).
    """

    def __init__(
        self,
        size: int,
        initializer: Callable[..., object] | None = None,
        initargs: Callable[[], tuple[object, ...]] = tuple,
    ) -> None:
        if size < 1:
            raise ValueError(f"need at least one worker process, got {size}")
        self.size = size
        self._initializer = initializer
        self._initargs = initargs
        self._pool: ProcessPoolExecutor | None = None
        self.started = 0  # pools started: 1 after the first use, one more after each death

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)`` in a worker process (all must pickle): its result or its exception;
        :class:`WorkerDied` when the process ends before answering."""
        pool = self._pool
        if pool is None:
            start = functools.partial(_start_worker, self._initializer, *self._initargs())
            context = multiprocessing.get_context("spawn")
            pool = self._pool = ProcessPoolExecutor(self.size, mp_context=context, initializer=start)
            self.started += 1
        try:
            return await asyncio.wrap_future(pool.submit(work, *args, **kwargs))
        except BrokenProcessPool:
            if self._pool is pool:  # the first request to see it replaces the pool (lazily)
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerDied("an ingest worker process ended while processing the request") from None

    def close(self) -> None:
        """Stop the processes (a later :meth:`run` starts new ones)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class Slot:
    """One request's admission (:meth:`IngestWorkers.slot`), given back once by :meth:`release`."""

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back: Callable[[], None] | None = give_back

    def release(self) -> None:
        """Give the slot back (again: nothing)."""
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()


class IngestWorkers:
    """Where ingest CPU work runs: ``processes`` worker processes for large bodies, ``threads``
    threads for bodies up to ``inline_bytes``; at most ``slots`` requests admitted at once, at most
    ``queue`` waiting up to ``wait_s`` each for a slot; at most ``pending_bytes`` of the requests
    whose records wait for Kafka (one such request however large, so that none waits forever).

    Slots and bytes are counted on the event loop (one owner: no lock); the workers only run the work.
    """

    def __init__(
        self,
        threads: int = 2,
        slots: int = 8,
        processes: int = 2,
        inline_bytes: int = INLINE_BYTES,
        queue: int = WAITING,
        wait_s: float = 5.0,
        pending_bytes: int = PENDING_BYTES,
        initializer: Callable[[], object] | None = None,
    ) -> None:
        if threads < 1 or slots < 1 or queue < 0 or wait_s < 0 or pending_bytes < 1:
            raise ValueError(
                f"need threads >= 1, slots >= 1, queue >= 0, wait_s >= 0 and pending_bytes >= 1, got "
                f"threads={threads}, slots={slots}, queue={queue}, wait_s={wait_s}, pending_bytes={pending_bytes}"
            )
        self.slots = slots
        self.queue = queue
        self.wait_s = wait_s
        self.inline_bytes = inline_bytes
        self.pending_bytes = pending_bytes
        self.busy = 0  # requests admitted whose records are not made yet
        self.waiting = 0  # requests waiting for a slot
        self.pending = 0  # bytes of the requests whose records wait for Kafka
        self._free = asyncio.Semaphore(slots)  # first come, first served
        self._room = asyncio.Condition()  # notified when pending bytes are given back
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="ingest-work")
        self.processes = Processes(processes, initializer)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Hold one slot until the request is answered or :meth:`sending` gives it back, waiting for one
        in the queue when all are taken; :class:`Busy` when the queue is full or no slot freed within
        ``wait_s``."""
        if self._free.locked() and self.waiting >= self.queue:
            raise Busy(
                f"{self.busy} ingest requests are being processed and {self.waiting} wait, "
                f"the limit is {self.slots} and {self.queue} waiting"
            )
        self.waiting += 1  # a free slot is taken without suspending: counted and uncounted at once
        try:
            async with asyncio.timeout(self.wait_s):
                await self._free.acquire()
        except TimeoutError:
            raise Busy(
                f"no ingest slot freed within {self.wait_s:g} s ({self.busy} requests are being processed, "
                f"the limit is {self.slots})"
            ) from None
        finally:
            self.waiting -= 1
        self.busy += 1
        held = Slot(self._give_back)
        try:
            yield held
        finally:
            held.release()

    def _give_back(self) -> None:
        self.busy -= 1
        self._free.release()

    @asynccontextmanager
    async def sending(self, held: Slot, nbytes: int) -> AsyncIterator[None]:
        """While a request's records (and body: ``nbytes`` in all) wait for Kafka: its slot ``held`` is
        given back, its bytes counted against ``pending_bytes``. Waits up to ``wait_s`` for room,
        keeping the slot meanwhile (so a backlog stops new bodies being read); :class:`Busy` then."""
        async with self._room:
            try:
                async with asyncio.timeout(self.wait_s):
                    await self._room.wait_for(lambda: self.pending == 0 or self.pending + nbytes <= self.pending_bytes)
            except TimeoutError:
                raise Busy(
                    f"{self.pending} bytes of earlier requests wait for Kafka, the limit is {self.pending_bytes}"
                ) from None
            self.pending += nbytes
        held.release()
        try:
            yield
        finally:
            self.pending -= nbytes
            async with self._room:
                self._room.notify_all()

    def in_process(self, raw: RawBody) -> bool:
        """Whether :meth:`run` works on ``raw`` in a worker process: gzipped, or larger than ``inline_bytes``."""
        return raw.gzip or len(raw.data) > self.inline_bytes

    async def run(
        self, work: Callable[Concatenate[RawBody, P], T], raw: RawBody, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``work(raw, *args, **kwargs)``: in a worker process when :meth:`in_process`
        (:class:`WorkerDied` if that process ends), else on a thread."""
        if self.in_process(raw):
            return await self.processes.run(work, raw, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(work, raw, *args, **kwargs))
