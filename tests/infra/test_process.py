"""Local tools and service processes: every failure says what failed and why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.process import InfraError, alive_pid, run_tool, start_detached, stop_pid, wait_until


def test_a_failed_tool_reports_its_exit_code_and_what_it_printed() -> None:
    script = "import sys; print('formatting'); sys.stderr.write('the disk is full\\n'); sys.exit(3)"
    with pytest.raises(InfraError) as failed:
        run_tool([sys.executable, "-c", script], "format the thing")
    message = str(failed.value)
    assert message.startswith("cannot format the thing: ")
    assert "exited with code 3" in message
    assert "formatting" in message and message.endswith("the disk is full")


def test_a_tool_that_prints_nothing_says_so() -> None:
    with pytest.raises(InfraError, match=r"exited with code 1:\n\(no output\)$"):
        run_tool([sys.executable, "-c", "raise SystemExit(1)"], "do it")


def test_java_stack_frames_are_left_out_of_the_tail() -> None:
    trace = (
        "print('java.io.IOException: Not a directory'); "
        "print('\\tat java.base/java.nio.file.Files.newByteChannel(Files.java:380)'); "
        "print('\\t... 3 more'); print('No available log directories to format.'); raise SystemExit(1)"
    )
    with pytest.raises(InfraError) as failed:
        run_tool([sys.executable, "-c", trace], "format")
    assert str(failed.value).endswith("java.io.IOException: Not a directory\nNo available log directories to format.")


def test_a_tool_that_cannot_run_names_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tool"
    with pytest.raises(InfraError, match=f"cannot fetch: cannot run {missing}: .*No such file"):
        run_tool([str(missing)], "fetch")


def test_a_service_that_exits_while_starting_reports_its_exit_code_and_log(tmp_path: Path) -> None:
    log, pid = tmp_path / "svc.log", tmp_path / "svc.pid"
    script = "import sys; print('cannot bind 127.0.0.1:1: address in use', flush=True); sys.exit(7)"
    process = start_detached([sys.executable, "-c", script], log, pid)
    with pytest.raises(InfraError) as failed:
        wait_until(lambda: False, 30, "svc", process, log)
    message = str(failed.value)
    assert message.startswith("cannot start svc: the process exited with code 7; last lines of ")
    assert message.endswith("cannot bind 127.0.0.1:1: address in use")


def test_a_service_that_is_never_ready_reports_the_timeout_and_its_log(tmp_path: Path) -> None:
    log, pid = tmp_path / "svc.log", tmp_path / "svc.pid"
    script = "import time; print('waiting for a quorum', flush=True); time.sleep(60)"
    process = start_detached([sys.executable, "-c", script], log, pid)
    try:
        with pytest.raises(InfraError, match=r"(?s)cannot start svc: not ready after 2 s; .*waiting for a quorum"):
            wait_until(lambda: False, 2, "svc", process, log)
        assert alive_pid(pid) == process.pid
    finally:
        assert stop_pid(pid, timeout_s=5)
        process.wait(5)
    assert alive_pid(pid) is None and not pid.exists()
