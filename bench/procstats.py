"""CPU seconds and peak resident memory of named groups of processes (psutil), for
``python -m bench.compare``: each system's own processes, Kafka apart from perfpulse's.

A group's CPU seconds are user + system time summed over its processes and their descendants,
between :meth:`ProcessStats.mark` and :meth:`ProcessStats.cpu_since_mark`; its peak RSS is the
largest sum of their resident sets seen by a sampling thread (every ``every_s``) while the
``with`` block runs."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType

import psutil

__all__ = ["ProcessStats"]


def _tree(pids: Iterable[int]) -> Iterator[psutil.Process]:
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            yield root
            yield from root.children(recursive=True)


class ProcessStats:
    """Sample the groups ``{name: pids}`` while in use as a context manager."""

    def __init__(self, groups: dict[str, list[int]], every_s: float = 0.25) -> None:
        self.groups = groups
        self.every_s = every_s
        self.peak_rss_mb = dict.fromkeys(groups, 0.0)
        self._marked = dict.fromkeys(groups, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def cpu_seconds(self, name: str) -> float:
        """User + system CPU seconds the group's processes have used so far (live ones)."""
        total = 0.0
        for process in _tree(self.groups[name]):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def mark(self) -> None:
        """Start counting CPU seconds of every group from now."""
        self._marked = {name: self.cpu_seconds(name) for name in self.groups}

    def cpu_since_mark(self) -> dict[str, float]:
        """CPU seconds of each group since :meth:`mark`."""
        return {name: self.cpu_seconds(name) - self._marked[name] for name in self.groups}

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            for name, pids in self.groups.items():
                rss = 0
                for process in _tree(pids):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        rss += process.memory_info().rss
                self.peak_rss_mb[name] = max(self.peak_rss_mb[name], rss / 2**20)

    def __enter__(self) -> ProcessStats:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
