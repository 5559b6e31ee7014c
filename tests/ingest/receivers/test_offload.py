"""Where ingest work runs: small bodies on a thread, large or gzipped ones in spawned worker
processes that are replaced when they die and end when the process that started them ends."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest.receivers.cumulative_worker import CumulativeWorker, deltas
from ingest.receivers.inflate import RawBody
from ingest.receivers.offload import Busy, IngestWorkers, Processes, Slot, WorkerDied
from perfpulse.gctuning import GEN0_THRESHOLD, tune_gc

REPO = Path(__file__).resolve().parents[3]


def pid_of(raw: RawBody) -> int:
    """Where the work ran."""
    return os.getpid()


def die(raw: RawBody) -> None:
    os._exit(3)  # what a crash or the OOM killer looks like to the pool


def refuse(raw: RawBody) -> None:
    raise ValueError(f"cannot read {len(raw.data)} bytes")


def memory_started_ns() -> int:
    return deltas().started_ns


async def test_small_bodies_run_on_a_thread_large_and_gzipped_ones_in_a_worker_process() -> None:
    workers = IngestWorkers(inline_bytes=16)
    try:
        assert await workers.run(pid_of, RawBody(b"x" * 16, gzip=False)) == os.getpid()
        large = await workers.run(pid_of, RawBody(b"x" * 17, gzip=False))
        gzipped = await workers.run(pid_of, RawBody(b"x", gzip=True))  # its inflated size is unknown
        assert large != os.getpid() and gzipped != os.getpid()
        assert workers.processes.started == 1
    finally:
        workers.processes.close()


def gc_threshold(raw: RawBody) -> tuple[int, int, int]:
    return gc.get_threshold()


async def test_each_worker_process_runs_the_initializer_the_api_gives_its_garbage_collector() -> None:
    """The API (perfpulse/app.py) passes :func:`tune_gc`: its worker processes parse and encode
    with as many short-lived objects as the API process itself."""
    workers = IngestWorkers(processes=1, inline_bytes=0, initializer=tune_gc)
    try:
        assert (await workers.run(gc_threshold, RawBody(b"x", gzip=False)))[0] == GEN0_THRESHOLD
        assert gc.get_threshold()[0] != GEN0_THRESHOLD  # this process was left as it was
    finally:
        workers.processes.close()


async def test_the_work_s_exception_comes_back_and_the_pool_stays() -> None:
    processes = Processes(1)
    try:
        with pytest.raises(ValueError, match="cannot read 3 bytes"):
            await processes.run(refuse, RawBody(b"abc", gzip=False))
        first = await processes.run(pid_of, RawBody(b"", gzip=False))
        assert await processes.run(pid_of, RawBody(b"", gzip=False)) == first
        assert processes.started == 1
    finally:
        processes.close()


async def test_a_worker_that_dies_fails_its_request_and_is_replaced() -> None:
    processes = Processes(2)
    try:
        before = await processes.run(pid_of, RawBody(b"", gzip=False))
        with pytest.raises(WorkerDied, match="ended while processing the request"):
            await processes.run(die, RawBody(b"", gzip=False))
        after = await processes.run(pid_of, RawBody(b"", gzip=False))
        assert after != before and processes.started == 2
    finally:
        processes.close()


async def test_slots_bound_the_requests_admitted() -> None:
    workers = IngestWorkers(slots=1, queue=0)
    async with workers.slot():
        with pytest.raises(Busy, match="the limit is 1 and 0 waiting"):
            async with workers.slot():
                pass
    async with workers.slot():
        assert workers.busy == 1
    assert workers.busy == 0


async def test_requests_past_the_slots_wait_in_order_up_to_the_queue_and_the_wait() -> None:
    workers = IngestWorkers(slots=1, queue=2, wait_s=0.5)
    admitted: list[str] = []

    async def request(name: str, hold_s: float) -> None:
        async with workers.slot():
            admitted.append(name)
            await asyncio.sleep(hold_s)

    first = asyncio.create_task(request("first", 0.2))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(request(name, 0.0)) for name in ("second", "third")]
    await asyncio.sleep(0)
    assert (workers.busy, workers.waiting) == (1, 2)
    with pytest.raises(Busy, match="1 ingest requests are being processed and 2 wait"):
        async with workers.slot():  # the queue is full: refused at once
            pass
    await asyncio.gather(first, *waiters)
    assert admitted == ["first", "second", "third"]
    assert (workers.busy, workers.waiting) == (0, 0)

    async with workers.slot():  # held past the wait: the waiter gives up and the slot stays held
        with pytest.raises(Busy, match=r"no ingest slot freed within 0\.5 s"):
            async with workers.slot():
                pass
        assert (workers.busy, workers.waiting) == (1, 0)
    async with workers.slot():
        assert workers.busy == 1


async def test_a_request_waiting_for_kafka_gives_its_slot_to_the_next() -> None:
    """Requests whose records wait for Kafka's commit do not hold slots: more of them than slots
    wait at once (and share the commit), bounded by their bytes."""
    workers = IngestWorkers(slots=1, queue=0, pending_bytes=100)
    committed = asyncio.Event()

    async def request(nbytes: int) -> None:
        async with workers.slot() as held, workers.sending(held, nbytes):
            await committed.wait()

    waiting = []
    for _ in range(3):  # one slot, queue 0: each is admitted only because the one before gave it back
        waiting.append(asyncio.create_task(request(30)))
        await asyncio.sleep(0.01)
    assert (workers.busy, workers.pending) == (0, 90)
    committed.set()
    await asyncio.gather(*waiting)
    assert (workers.busy, workers.pending) == (0, 0)


async def test_records_past_the_pending_bytes_wait_with_their_slot_then_are_refused() -> None:
    workers = IngestWorkers(slots=2, queue=0, wait_s=0.3, pending_bytes=100)
    committed = asyncio.Event()

    async def first() -> None:
        async with workers.slot() as held, workers.sending(held, 80):
            await committed.wait()

    waiting = asyncio.create_task(first())
    await asyncio.sleep(0.01)
    async with workers.slot() as held:
        late = asyncio.create_task(_send(workers, held, 30))
        await asyncio.sleep(0.1)
        assert (workers.busy, workers.pending) == (1, 80)  # still holds its slot while it waits for room
        committed.set()  # the first one's commit ends: room for the second
        await late
        assert (workers.busy, workers.pending) == (0, 0)
    committed.clear()
    waiting = asyncio.create_task(first())
    await asyncio.sleep(0.01)
    async with workers.slot() as held:
        with pytest.raises(Busy, match="80 bytes of earlier requests wait for Kafka, the limit is 100"):
            await _send(workers, held, 30)
        assert workers.busy == 1
    committed.set()
    await waiting
    # alone, a request larger than the bound still goes: nothing else would ever make room for it
    async with workers.slot() as held:
        await _send(workers, held, 1_000)
    assert (workers.busy, workers.pending) == (0, 0)


async def _send(workers: IngestWorkers, held: Slot, nbytes: int) -> None:
    async with workers.sending(held, nbytes):
        await asyncio.sleep(0)


async def test_a_new_cumulative_process_starts_its_memory_from_its_own_start() -> None:
    """A replacement must not forward whole totals of series that started before it: those were
    forwarded (in part) by the process that died."""
    worker = CumulativeWorker(started_ns=123)
    try:
        assert await worker.run(memory_started_ns) == 123
        with pytest.raises(WorkerDied):
            await worker.run(die, RawBody(b"", gzip=False))
        await worker.commit()  # the memory died with the process: nothing to keep, no error
        assert len(worker) == 0
        restarted = await worker.run(memory_started_ns)
        assert restarted == worker.started_ns and restarted > time.time_ns() - 600 * 10**9
    finally:
        worker.close()


def test_workers_end_when_the_process_that_started_them_is_killed() -> None:
    script = textwrap.dedent(
        """
        import asyncio, time
        from ingest.receivers.inflate import RawBody
        from ingest.receivers.offload import Processes
        from tests.ingest.receivers.test_offload import pid_of

        async def main():
            processes = Processes(2)
            print(await processes.run(pid_of, RawBody(b"", gzip=False)), flush=True)
            time.sleep(600)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)  # alive
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.1)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"  # a zombie has ended, waiting for init to reap it
    except FileNotFoundError:
        return False


async def test_a_burst_of_a_thousand_requests_waits_for_the_default_slots_and_none_is_refused() -> None:
    """The load test's stress scenario: 1,000 users, a fifth of them posting at a time, filled a queue
    of 256 and were answered 503; the default queue takes them all."""
    workers = IngestWorkers()
    admitted = 0

    async def request() -> None:
        nonlocal admitted
        async with workers.slot():
            admitted += 1
            await asyncio.sleep(0.001)

    await asyncio.gather(*(request() for _ in range(1_000)))
    assert admitted == 1_000
    assert (workers.busy, workers.waiting) == (0, 0)
