"""Detached local service processes: start with a pid file, check, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["InfraError", "alive_pid", "start_detached", "stop_pid", "wait_until"]


class InfraError(RuntimeError):
    """A local service could not be set up, started or stopped; the message says why."""


def alive_pid(pid_file: Path) -> int | None:
    """Return the pid recorded in ``pid_file`` if that process is still running."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # A zombie (exited, not yet reaped) counts as stopped.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return pid
    return None if state == "Z" else pid


def start_detached(argv: Sequence[str], log_file: Path, pid_file: Path, cwd: Path | None = None) -> int:
    """Start ``argv`` in its own session (it outlives this process), output to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise InfraError(f"cannot start {argv[0]}: {exc}") from exc
    pid_file.write_text(str(proc.pid))
    return proc.pid


def stop_pid(pid_file: Path, timeout_s: float = 30.0) -> bool:
    """SIGTERM the recorded process, wait up to ``timeout_s``, then SIGKILL. True if one was running."""
    pid = alive_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive_pid(pid_file) is not None:
        time.sleep(0.1)
    if alive_pid(pid_file) is not None:
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    pid_file.unlink(missing_ok=True)
    return True


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, alive: Callable[[], bool]) -> None:
    """Poll ``check`` until it is true; fail early if ``alive`` says the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if not alive():
            raise InfraError(f"cannot start {what}: the process exited (see its log)")
        time.sleep(0.25)
    raise InfraError(f"cannot start {what}: not ready after {timeout_s:.0f} s")
