"""Group commit: callers that arrive while a commit runs share the next one.

Kafka transactions cost a few round trips each (adding partitions, the commit marker), and an
aiokafka producer holds one open transaction at a time; so the receivers' requests do not take a
transaction each but join the one that starts after the current one ends. :class:`GroupCommit`
is that queue, independent of Kafka: ``commit`` gets the items of one group and answers one
outcome per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")

Commit = Callable[[list[T]], Awaitable[Sequence[BaseException | None]]]


class GroupCommit(Generic[T]):
    """Runs ``commit`` on the items submitted meanwhile, one commit at a time, in submission order.

    ``commit(items)`` returns, per item, ``None`` (committed) or the exception its submitter gets.
    An exception raised by ``commit`` itself is every item's outcome. Safe for many coroutines of
    one event loop.
    """

    def __init__(self, commit: Commit[T]) -> None:
        self._commit = commit
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once ``item`` was committed with the group it joined; raise its outcome otherwise.
        A submitter cancelled meanwhile does not take its item back: the group commits it anyway."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, future))
        if self._runner is None:
            self._runner = loop.create_task(self._run())
        await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    outcomes: Sequence[BaseException | None] = await self._commit([item for item, _ in group])
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
            self._runner = None
            # Left only when this task was cancelled (the loop shutting down): nobody will commit them.
            for _, future in self._waiting:
                future.cancel()
            self._waiting = []
