"""A request body and its Kafka records exchanged with a worker process through a file, not pipes.

Through the pool's pipes, a 16 MiB body is pickled in the API process, and its ~17 MB of records
unpickled there, each by one C call that copies everything while it holds the GIL: 15-27 ms each at
load average 9, up to 99 ms (the pickle) and 150 ms (the unpickle) in the server at load average
14-19 on 2 cores, when the thread holding the GIL was preempted; the event loop answered nothing
meanwhile. So the API process writes the body to a file it made for the request (:class:`Spool`, in
``/dev/shm`` when there is one: memory, no disk) on a thread, with the GIL released while the kernel
copies; the work (:class:`Spooling`) reads it there, writes the record values back in its place and
returns only their keys and sizes; the API process reads each value back with one ``pread`` on a
thread, the kernel filling each new buffer with the GIL released.

The API process creates the file and removes it whatever happens to the request (refused, worker
died, cancelled); only a killed API process leaves one behind (``perfpulse-spool-*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec

from ingest.receivers.encode import Encoded, Refusal
from ingest.receivers.inflate import RawBody
from ingest.receivers.offload import IngestWorkers
from schemas import RecordType

__all__ = ["Spool", "Spooled", "Spooling", "encoded_by", "spooled"]

P = ParamSpec("P")

log = logging.getLogger("perfpulse.ingest.spool")

_SHM = "/dev/shm"
_DIR = _SHM if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK) else None  # None: the temp directory


@dataclass(frozen=True, slots=True)
class Spooled:
    """An :class:`~ingest.receivers.encode.Encoded` whose record values are in the spool file, in
    order: ``heads`` holds each record's key, value size and description."""

    kind: RecordType
    heads: list[tuple[bytes, int, str]]
    accepted: int
    rejected: int
    reason: str


@dataclass(frozen=True, slots=True)
class Spooling(Generic[P]):
    """``work`` (a module-level function, so that this pickles) on the body in the file at ``path``,
    its records written back in its place: run in the worker process."""

    work: Callable[Concatenate[RawBody, P], Encoded | Refusal]
    path: str

    def __call__(self, gzip: bool, /, *args: P.args, **kwargs: P.kwargs) -> Spooled | Refusal:
        # "r+b": the file must exist; one removed by the API process (request gone) is not made again
        with open(self.path, "r+b") as file:
            result = self.work(RawBody(file.read(), gzip), *args, **kwargs)
            if isinstance(result, Refusal):
                return result
            file.seek(0)
            file.writelines(value for _, value, _ in result.records)
            file.truncate()
        heads = [(key, len(value), what) for key, value, what in result.records]
        return Spooled(result.kind, heads, result.accepted, result.rejected, result.reason)


class Spool:
    """One request's spool file at :attr:`path` (see :meth:`made`)."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    @asynccontextmanager
    async def made(cls) -> AsyncIterator[Spool]:
        """A new empty spool file, removed on exit whatever happened."""
        fd, path = tempfile.mkstemp(prefix="perfpulse-spool-", dir=_DIR)
        os.close(fd)
        try:
            yield cls(path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    async def write(self, raw: RawBody) -> None:
        """Put ``raw``'s bytes in the file (on a thread: the GIL is released while the kernel copies)."""
        await asyncio.to_thread(_write, self.path, raw.data)

    def work(self, work: Callable[Concatenate[RawBody, P], Encoded | Refusal]) -> Spooling[P]:
        """``work`` on the body in this spool (see :meth:`write`), its records written back: run it in
        a worker process with the body's ``gzip`` first, give its result to :meth:`read`."""
        return Spooling(work, self.path)

    async def read(self, work: Awaitable[Spooled | Refusal]) -> Encoded | Refusal:
        """The records of ``work``'s result read back from the file, or its refusal; its exceptions
        (:class:`~ingest.receivers.offload.WorkerDied`) propagate."""
        result = await work
        if isinstance(result, Refusal):
            return result
        values = await asyncio.to_thread(_read, self.path, [size for _, size, _ in result.heads])
        records = [(key, value, what) for (key, _, what), value in zip(result.heads, values, strict=True)]
        return Encoded(result.kind, records, result.accepted, result.rejected, result.reason)


async def encoded_by(
    workers: IngestWorkers,
    work: Callable[Concatenate[RawBody, P], Encoded | Refusal],
    raw: RawBody,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Encoded | Refusal:
    """``work(raw, *args, **kwargs)`` where :meth:`IngestWorkers.run` runs it; for a worker process
    the body goes and its records come back through a spool file (:func:`spooled`), on a thread (a
    small body) they stay as they are."""
    if not workers.in_process(raw):
        return await workers.run(work, raw, *args, **kwargs)
    return await spooled(workers.processes.run, work, raw, *args, **kwargs)


async def spooled(
    run: Callable[..., Awaitable[Any]],
    work: Callable[Concatenate[RawBody, P], Encoded | Refusal],
    raw: RawBody,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Encoded | Refusal:
    """``work(raw, *args, **kwargs)`` run by ``run`` (a worker process's: the ingest workers' or the
    cumulative one's), the body and its records through a spool file."""
    try:
        async with Spool.made() as spool:
            await spool.write(raw)
            result: Encoded | Refusal = await spool.read(run(spool.work(work), raw.gzip, *args, **kwargs))
            return result
    except OSError as exc:
        # No room for the file (a container's /dev/shm is 64 MiB unless raised) or no such directory:
        # the body still goes, through the pipes, at the cost of the copies above on the event loop.
        log.warning("cannot spool an ingest body of %d bytes (%s): sent through the worker's pipes", len(raw.data), exc)
        piped: Encoded | Refusal = await run(work, raw, *args, **kwargs)
        return piped


def _write(path: str, data: bytes) -> None:
    with open(path, "r+b") as file:  # buffered: writes all of ``data``, however the kernel splits it
        file.write(data)


def _read(path: str, sizes: list[int]) -> list[bytes]:
    """The values of ``sizes`` bytes each, in file order: one read each, made with the GIL released
    (the kernel fills each new buffer, page faults included)."""
    values, at = [], 0
    fd = os.open(path, os.O_RDONLY)
    try:
        for size in sizes:
            value = os.pread(fd, size, at)
            if len(value) != size:
                raise OSError(f"spool file {path} ends at {at + len(value)} bytes, {at + size} expected")
            values.append(value)
            at += size
    finally:
        os.close(fd)
    return values
