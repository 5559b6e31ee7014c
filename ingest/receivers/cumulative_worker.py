"""The OTLP metrics receiver's cumulative memory (:mod:`ingest.receivers.cumulative`), kept in a
worker process of its own, where the requests that read and stage it are converted.

OTLP metrics requests are converted one at a time (:attr:`CumulativeWorker.lock`), in that one
process, outside the API process's GIL; their totals are committed once Kafka acknowledged the
records. When the process dies its memory goes with it, and the next request starts a new one that
treats every series as a receiver restart does: series that started before it are baselines (one
delta per series lost), never counted twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ingest.receivers.cumulative import MAX_SERIES, CumulativeDeltas
from ingest.receivers.offload import Processes, WorkerDied

__all__ = ["CumulativeWorker", "deltas"]

P = ParamSpec("P")
T = TypeVar("T")

_memory: CumulativeDeltas | None = None  # in the worker process


def _start(started_ns: int, max_series: int) -> None:
    global _memory
    _memory = CumulativeDeltas(max_series, started_ns)


def deltas() -> CumulativeDeltas:
    """The memory of this worker process (call it only in one started by :class:`CumulativeWorker`)."""
    if _memory is None:
        raise RuntimeError("no cumulative memory here: this is not a cumulative worker process")
    return _memory


def _commit() -> int:
    memory = deltas()
    memory.commit()
    return len(memory)


class CumulativeWorker:
    """One receiver's cumulative memory, in a worker process started on first use.

    ``started_ns`` is when the receiver started (series that started later forward their whole
    first total); a process replacing a dead one starts from its own start time.
    """

    def __init__(self, max_series: int = MAX_SERIES, started_ns: int | None = None) -> None:
        self.max_series = max_series
        self.started_ns = time.time_ns() if started_ns is None else started_ns
        self.series = 0  # series remembered, as of the last commit
        self.lock = asyncio.Lock()  # one request from conversion to commit
        self._first = True
        self._process = Processes(1, _start, self._start_args)

    def _start_args(self) -> tuple[object, ...]:
        if not self._first:
            self.started_ns = time.time_ns()
        self._first = False
        return (self.started_ns, self.max_series)

    def __len__(self) -> int:
        return self.series

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)`` in the worker process (hold :attr:`lock`); :class:`WorkerDied` if it ends."""
        return await self._process.run(work, *args, **kwargs)

    async def commit(self) -> None:
        """Keep the totals the last :meth:`run` staged: Kafka acknowledged what was computed from them.
        A process that died since took them with it: nothing to keep."""
        try:
            self.series = await self._process.run(_commit)
        except WorkerDied:
            self.series = 0

    def close(self) -> None:
        """Stop the worker process (its memory is lost; a later :meth:`run` starts a new one)."""
        self._process.close()
