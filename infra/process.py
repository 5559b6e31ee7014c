"""Local service processes and the tools that set them up: run a tool, start detached, check, stop.

Every failure is an :class:`InfraError` that carries its cause: a tool's exit code and the tail of
what it printed (stdout and stderr: Java tools print their errors on stderr, Maven on stdout), a
service's exit status and the tail of its log.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["InfraError", "alive_pid", "exclusive", "run_tool", "start_detached", "stop_pid", "wait_until"]

_TAIL_LINES = 15  # enough for a Java exception's message and first frames, or Maven's [ERROR] block
_TAIL_CHARS = 3000
_JAVA_FRAME = re.compile(r"^\s+(at \S+\(.*\)|\.\.\. \d+ more)$")  # a stack frame: the message says more


class InfraError(RuntimeError):
    """A local service could not be set up, started or stopped; the message says why."""


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if not _JAVA_FRAME.match(line)][-_TAIL_LINES:]
    return "\n".join(lines)[-_TAIL_CHARS:]


def _log_tail(log_file: Path) -> str:
    try:
        with open(log_file, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4 * _TAIL_CHARS))
            text = log.read().decode(errors="replace")
    except OSError as exc:
        return f"(cannot read its log {log_file}: {exc})"
    return f"last lines of {log_file}:\n{_tail(text)}" if text.strip() else f"{log_file} is empty"


def run_tool(argv: Sequence[str], what: str, timeout_s: float = 600.0) -> str:
    """Run a short-lived tool to its end and return its stdout.

    Raises :class:`InfraError` "cannot <what>: ..." when it cannot be started, outlives
    ``timeout_s``, or exits non-zero; the message names the exit code and ends with the tail of
    its output (stdout then stderr).
    """
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise InfraError(f"cannot {what}: {argv[0]} did not finish within {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise InfraError(f"cannot {what}: cannot run {argv[0]}: {exc}") from exc
    if result.returncode != 0:
        output = _tail(f"{result.stdout}\n{result.stderr}") or "(no output)"
        raise InfraError(f"cannot {what}: {argv[0]} exited with code {result.returncode}:\n{output}")
    return result.stdout


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created if missing) for the block: two processes that
    set up the same directory (two ``perfpulse up``, two test sessions) take turns instead of
    writing it at once. The lock goes with the process, so a crash never leaves it held."""
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InfraError(f"cannot lock {lock_file}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


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


def start_detached(
    argv: Sequence[str], log_file: Path, pid_file: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (it outlives this process), output to ``log_file``."""
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                start_new_session=True,
            )
        pid_file.write_text(str(proc.pid))
    except OSError as exc:
        raise InfraError(f"cannot start {argv[0]}: {exc}") from exc
    return proc


def stop_pid(pid_file: Path, timeout_s: float = 30.0) -> bool:
    """SIGTERM the recorded process, wait up to ``timeout_s``, then SIGKILL. True if one was running."""
    pid = alive_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and alive_pid(pid_file) is not None:
            time.sleep(0.1)
        if alive_pid(pid_file) is not None:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
    except ProcessLookupError:
        pass  # it ended between the check and the signal
    except OSError as exc:
        raise InfraError(f"cannot stop process {pid} (from {pid_file}): {exc}") from exc
    pid_file.unlink(missing_ok=True)
    return True


def _ended(process: subprocess.Popen[bytes] | Path) -> str | None:
    """How ``process`` (a child, or the pid file of an earlier one) ended, or None while it runs."""
    if isinstance(process, Path):
        return None if alive_pid(process) is not None else "the process exited"
    code = process.poll()
    if code is None:
        return None
    if code < 0:
        return f"the process was killed by {signal.Signals(-code).name}"
    return f"the process exited with code {code}"


def wait_until(
    check: Callable[[], bool], timeout_s: float, what: str, process: subprocess.Popen[bytes] | Path, log_file: Path
) -> None:
    """Poll ``check`` until it is true. Raises :class:`InfraError` "cannot start <what>: ..." when
    ``process`` ends first or ``timeout_s`` passes, with how it ended and the tail of ``log_file``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        ended = _ended(process)
        if ended is not None:
            raise InfraError(f"cannot start {what}: {ended}; {_log_tail(log_file)}")
        time.sleep(0.25)
    raise InfraError(f"cannot start {what}: not ready after {timeout_s:.0f} s; {_log_tail(log_file)}")
