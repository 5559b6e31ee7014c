"""The stream worker in the stage shape: its Faust app runs on the process's event loop from
``run(stop)`` until ``stop`` is set, and says whether it owns partitions.

Faust's ``Worker.execute_from_commandline`` owns the loop, the signal handlers and the process's
exit, which a stage may not: here the worker runs as a service of our loop (``daemon=False``: its
start returns once the app is up) with its signal handlers left out, and ``run`` stops it itself.
The app is built inside ``run``, on the running loop, so a restart after a crash starts from a
fresh app rather than from services of a stopped one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import faust
from faust.exceptions import ConsumerNotStarted

from schemas.stage import Health
from stream.worker import StreamConfig, StreamWorker

__all__ = ["StreamStage"]

log = logging.getLogger("perfpulse.stream")


class _EmbeddedWorker(faust.Worker):
    """A Faust worker that leaves SIGINT/SIGTERM to the process (the composition root sets ``stop``)."""

    def install_signal_handlers(self) -> None:
        return None


class StreamStage:
    """Metric batches and spans in, rollups and alert records out (see stream/worker.py)."""

    name = "stream"

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self._worker: StreamWorker | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run the Faust app until ``stop`` is set; raises RuntimeError naming the cause when the app
        crashes (the composition root then restarts the stage)."""
        worker = StreamWorker(self.config)
        runner = _EmbeddedWorker(
            worker.app,
            loop=asyncio.get_running_loop(),
            daemon=False,
            quiet=True,
            override_logging=False,
            redirect_stdouts=False,
        )
        self._worker = worker
        try:
            await runner.start()
            stopped = asyncio.ensure_future(stop.wait())
            ended = asyncio.ensure_future(runner.wait_until_stopped())  # a crash of any Faust service ends it
            await asyncio.wait({stopped, ended}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stopped, ended):
                waiter.cancel()
            reason = runner.crash_reason or worker.app.crash_reason
            if reason is not None:
                raise RuntimeError(f"stream worker crashed: {reason!r}")
            if not stop.is_set():
                raise RuntimeError("stream worker stopped by itself")
        finally:
            self._worker = None
            with contextlib.suppress(Exception):
                await runner.stop()

    def health(self) -> Health:
        """Healthy while the app runs and owns at least one partition (a worker of a group whose
        partitions all went to others is idle, not broken: it says so)."""
        worker = self._worker
        if worker is None or not worker.app.started:
            return Health(self.name, False, "not running")
        try:
            owned = len(worker.app.consumer.assignment())
        except ConsumerNotStarted:
            return Health(self.name, False, "starting")
        return Health(self.name, True, f"{owned} partitions assigned" if owned else "running; no partition assigned")
