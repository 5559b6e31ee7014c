"""What one perfpulse process uses, read from its own ``/proc`` entries: resident memory, CPU since
the previous sample, and its established TCP connections (those on the API's port: HTTP clients and
live-feed WebSockets). Only figures, a role, the host name and the pid: never a command line or an
environment (they may hold secrets).

Linux only; elsewhere the figures ``/proc`` gives are None. Reading is bounded: at most
:data:`MAX_FDS` descriptors and :data:`MAX_SOCKET_LINES` lines of the socket tables per sample.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_FDS", "MAX_SOCKET_LINES", "ProcessSample", "SelfSampler", "tcp_counts"]

MAX_FDS = 65_536  # descriptors looked at per sample (a process past this many is counted partly)
MAX_SOCKET_LINES = 200_000  # lines of /proc/self/net/tcp{,6} read per sample
_ESTABLISHED = "01"  # the state column of /proc/net/tcp
_PROC = Path("/proc/self")


@dataclass(frozen=True)
class ProcessSample:
    """One process at one moment."""

    role: str  # what runs in it: "api", "stream", "sink", "sink+notifier", ...
    host: str
    pid: int
    started_ms: int  # when its sampler started (about when the process did), epoch ms
    at_ms: int  # when the sample was taken, epoch ms
    rss_bytes: int | None  # resident memory
    cpu_percent: float | None  # CPU time over wall time since the previous sample (100: one whole core)
    tcp_connections: int | None  # established TCP connections of the process (clients of Kafka, Redis... too)
    http_connections: int | None  # of those, the ones on its listening port (None: it listens on none)
    live_connections: int | None  # open live-feed WebSockets (None: it serves no live feed)


def _rss_bytes() -> int | None:
    try:
        resident_pages = int((_PROC / "statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def _socket_inodes() -> set[str] | None:
    """The inodes of this process's sockets, from its descriptors' links (``socket:[123]``)."""
    inodes: set[str] = set()
    try:
        with os.scandir(_PROC / "fd") as entries:
            for n, entry in enumerate(entries):
                if n >= MAX_FDS:
                    break
                try:
                    target = os.readlink(entry.path)
                except OSError:  # closed between the listing and the read
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    except OSError:
        return None
    return inodes


def tcp_counts(table_lines: list[str], inodes: set[str], port: int | None) -> tuple[int, int]:
    """From lines of ``/proc/net/tcp`` (header excluded): how many established connections belong
    to ``inodes``, and how many of those have ``port`` as their local port."""
    total = on_port = 0
    for line in table_lines:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _ESTABLISHED or fields[9] not in inodes:
            continue
        total += 1
        if port is not None and int(fields[1].rpartition(":")[2], 16) == port:
            on_port += 1
    return total, on_port


def _table_lines() -> list[str] | None:
    lines: list[str] = []
    for name in ("tcp", "tcp6"):
        try:
            with open(_PROC / "net" / name) as table:
                next(table, None)  # the header
                for line in table:
                    if len(lines) >= MAX_SOCKET_LINES:
                        return lines
                    lines.append(line)
        except OSError:
            if name == "tcp":
                return None
    return lines


class SelfSampler:
    """Samples the calling process. ``port``: the port it serves HTTP on (its connections are
    counted apart); ``live``: how many live-feed connections it holds now."""

    def __init__(self, role: str, port: int | None = None, live: Callable[[], int] | None = None) -> None:
        self.role = role
        self.port = port
        self.live = live
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_ms = time.time_ns() // 1_000_000
        self._cpu = self._cpu_seconds()
        self._wall = time.monotonic()

    @staticmethod
    def _cpu_seconds() -> float:
        times = os.times()
        return times.user + times.system

    def sample(self) -> ProcessSample:
        """The process now; CPU over the time since the previous call (or since construction).
        Blocking file reads: call it from a thread."""
        cpu, wall = self._cpu_seconds(), time.monotonic()
        elapsed = wall - self._wall
        cpu_percent = round(100 * (cpu - self._cpu) / elapsed, 1) if elapsed > 0 else None
        self._cpu, self._wall = cpu, wall
        inodes, lines = _socket_inodes(), _table_lines()
        tcp = http = None
        if inodes is not None and lines is not None:
            tcp, http = tcp_counts(lines, inodes, self.port)
        return ProcessSample(
            role=self.role,
            host=self.host,
            pid=self.pid,
            started_ms=self.started_ms,
            at_ms=time.time_ns() // 1_000_000,
            rss_bytes=_rss_bytes(),
            cpu_percent=cpu_percent,
            tcp_connections=tcp,
            http_connections=http if self.port is not None else None,
            live_connections=self.live() if self.live is not None else None,
        )
