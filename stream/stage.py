"""The stream stage in the shape of every stage: run until stopped, report health.

Faust's :class:`faust.Worker` normally owns its process (``execute_from_commandline`` makes the loop,
installs signal handlers and closes the loop at the end). Here it is started and stopped inside the
composition root's loop instead, without its signal handlers: the composition root owns the signals
and the process, as it does for every other stage.
"""

from __future__ import annotations

import asyncio
import contextlib

import faust

from schemas.stage import Health
from stream.worker import StreamConfig, StreamWorker

__all__ = ["StreamStage"]


class _Worker(faust.Worker):
    def install_signal_handlers(self) -> None:
        """The composition root handles SIGINT/SIGTERM by setting the stage's stop event."""


class StreamStage:
    """One stream worker process's Faust app (several share the partitions through the group)."""

    name = "stream"

    def __init__(self, config: StreamConfig, log_level: str = "info") -> None:
        self.worker = StreamWorker(config)
        self.log_level = log_level
        self._running = False

    def health(self) -> Health:
        if not self._running:
            return Health(self.name, False, "starting or stopped")
        assigned = len(self.worker.app.consumer.assignment())
        return Health(self.name, True, f"{assigned} partition(s) assigned")

    async def run(self, stop: asyncio.Event) -> None:
        worker = _Worker(
            self.worker.app,
            loop=asyncio.get_running_loop(),
            loglevel=self.log_level,
            override_logging=False,
            redirect_stdouts=False,
            quiet=True,
        )
        await worker.start()
        self._running = True
        try:
            while not stop.is_set():
                if worker.crashed:
                    # A crashed Faust app cannot start again in this process: end it, so that its
                    # supervisor (``perfpulse up``, systemd, Kubernetes) starts a fresh one.
                    raise RuntimeError(f"the stream worker crashed: {worker.crash_reason!r}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            self._running = False
            await worker.stop()
