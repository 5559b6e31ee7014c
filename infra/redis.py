"""A local Redis from Debian's ``redis-server``, started when none answers on the port."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from infra.process import InfraError, alive_pid, start_detached, stop_pid, wait_until

__all__ = ["LocalRedis"]


@dataclass(frozen=True)
class LocalRedis:
    """One ``redis-server`` on 127.0.0.1:``port`` with its files under ``home``."""

    home: Path  # e.g. <data dir>/redis
    port: int = 6379
    max_memory_mb: int = 256

    @property
    def pid_file(self) -> Path:
        return self.home / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def running_pid(self) -> int | None:
        return alive_pid(self.pid_file)

    def is_ready(self) -> bool:
        """True when the server answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout_s: float = 20.0) -> str:
        """Start redis-server unless one answers already. Returns "started", "running" or "external"."""
        if self.running_pid() is not None:
            return "running"
        if self.is_ready():
            return "external"
        binary = shutil.which("redis-server")
        if binary is None:
            raise InfraError("cannot start Redis: redis-server is not installed (run `make deps`)")
        argv = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.home),
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--maxmemory", f"{self.max_memory_mb}mb", "--maxmemory-policy", "allkeys-lru",
        ]  # fmt: skip
        server = start_detached(argv, self.log_file, self.pid_file)
        wait_until(self.is_ready, timeout_s, f"Redis on port {self.port}", server, self.log_file)
        return "started"

    def stop(self) -> bool:
        return stop_pid(self.pid_file, timeout_s=15.0)
