"""Group commit: callers that arrive while commits run share the next one.

Kafka transactions cost a few round trips each (adding partitions, the commit marker), and an
aiokafka producer holds one open transaction at a time; so the receivers' requests do not take a
transaction each but join the one that starts when a producer is free. :class:`GroupCommit` is that
queue, independent of Kafka: a *lane* (one producer's ``commit``) gets the items of one group and
answers one outcome per item. With two lanes a request that arrives while one transaction runs
starts the next at once on the other, instead of waiting for the first to end.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")

Commit = Callable[[list[T]], Awaitable[Sequence[BaseException | None]]]


class GroupCommit(Generic[T]):
    """Runs the ``commits`` (lanes) on the items submitted meanwhile: at most one group per lane at a
    time, a group on the first free lane, items in submission order.

    A lane's ``commit(items)`` returns, per item, ``None`` (committed) or the exception its submitter
    gets. An exception raised by ``commit`` itself is every item's outcome. Safe for many coroutines
    of one event loop.
    """

    def __init__(self, commit: Commit[T], *more: Commit[T]) -> None:
        self._lanes = (commit, *more)
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._free = list(range(len(self._lanes)))  # lanes running no group, lowest first
        self._runners: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> None:
        """Return once ``item`` was committed with the group it joined; raise its outcome otherwise.
        A submitter cancelled meanwhile does not take its item back: the group commits it anyway."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, future))
        # Waiting items already have a lane coming for them: one just started, or the first to free.
        if len(self._waiting) == 1 and self._free:
            runner = loop.create_task(self._run(self._free.pop(0)))
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        await future

    async def _run(self, lane: int) -> None:
        commit = self._lanes[lane]
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    outcomes: Sequence[BaseException | None] = await commit([item for item, _ in group])
                    if len(outcomes) != len(group):
                        raise RuntimeError(f"commit answered {len(outcomes)} outcomes for {len(group)} items")
                except asyncio.CancelledError:
                    for _, future in group:
                        future.cancel()
                    raise
                except Exception as exc:  # commit's own failure: every item's
                    outcomes = [exc] * len(group)
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():  # its submitter was cancelled
                        continue
                    if outcome is None:
                        future.set_result(None)
                    else:
                        future.set_exception(outcome)
        finally:
            bisect.insort(self._free, lane)
            # Items are left only when this task was cancelled (the loop shutting down): nobody will
            # commit them unless another lane is still running.
            if len(self._free) == len(self._lanes):
                for _, future in self._waiting:
                    future.cancel()
                self._waiting = []
