"""Ingest work off the event loop, under a concurrency limit.

Inflating, parsing, validating, redacting and converting a request body is CPU work linear in the
body (up to 16 MiB): on the event loop it would stall every other request of the process, health
checks and queries included. :class:`IngestWorkers` runs it on a small pool of threads of its own
(the loop's default pool serves the API's queries). A request holds a slot from before its body is
read until it is answered, so at most ``slots`` bodies are in memory at once; one more is refused at
once (:class:`Busy`, answered 503 with ``Retry-After``) rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

__all__ = ["BUSY_RETRY_AFTER_S", "Busy", "IngestWorkers"]

P = ParamSpec("P")
T = TypeVar("T")

BUSY_RETRY_AFTER_S = 1  # a slot frees as soon as one request is answered


class Busy(Exception):
    """Every slot is taken: the request is refused before its body is read."""


class IngestWorkers:
    """``threads`` threads for ingest CPU work; at most ``slots`` requests admitted at once.

    Slots are counted on the event loop (one owner: no lock); the threads only run the work.
    """

    def __init__(self, threads: int = 2, slots: int = 8) -> None:
        if threads < 1 or slots < threads:
            raise ValueError(f"need threads >= 1 and slots >= threads, got threads={threads}, slots={slots}")
        self.slots = slots
        self.busy = 0  # requests admitted and not yet answered
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="ingest-work")

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the request's whole life; :class:`Busy` when none is free."""
        if self.busy >= self.slots:
            raise Busy(f"{self.busy} ingest requests are being processed, the limit is {self.slots}")
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)`` on a worker thread; its result or its exception."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args, **kwargs))
