"""perfpulse stages as child processes: ``perfpulse up`` runs its stages this way, and so do the
end-to-end tests and the benchmarks."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx

__all__ = ["ProcessGroup", "wait_http_ok"]


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (Linux), so no stage outlives its supervisor."""
    with contextlib.suppress(OSError):  # not Linux: children outlive a killed parent, as usual
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


class ProcessGroup:
    """Named ``perfpulse <command>`` children sharing one environment."""

    def __init__(self, env: dict[str, str], log_dir: Path | None = None) -> None:
        """``log_dir``: one ``<name>.log`` per child there; None: children inherit stdout/stderr."""
        self.env = env
        self.log_dir = log_dir
        self.argv: dict[str, list[str]] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *command: str) -> None:
        """Start ``perfpulse <command...>`` as ``name`` (a later ``start(name)`` restarts it)."""
        argv = [sys.executable, "-m", "perfpulse", *command] if command else self.argv[name]
        self.argv[name] = argv
        output: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.processes[name] = subprocess.Popen(
            argv, env=self.env, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        if output is not None:
            output.close()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (default SIGKILL) and wait for the child to exit."""
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=60)

    def exited(self) -> dict[str, int]:
        """Children that have exited, with their exit codes (they stay listed until restarted)."""
        return {name: code for name, p in self.processes.items() if (code := p.poll()) is not None}

    def stop_all(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every child, wait up to ``timeout_s`` in all, SIGKILL what remains."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def wait_http_ok(
    url: str, timeout_s: float, alive: Callable[[], bool] = lambda: True, verify: ssl.SSLContext | bool = True
) -> bool:
    """Poll ``url`` until it answers 200 (True), or ``timeout_s`` passes or ``alive()`` turns
    False (False). ``verify``: how an HTTPS server is trusted (httpx's meaning)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(url, timeout=1.0, verify=verify).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False
