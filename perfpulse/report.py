"""``perfpulse report``: the dashboard's performance report page printed to PDF by headless Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import httpx

from schemas import parse_duration_ms

__all__ = ["MAX_RANGE_MS", "ReportError", "print_report"]

MAX_RANGE_MS = 30 * 86_400_000  # the dashboard's longest range
_RANGE = re.compile(r"[1-9][0-9]{0,5}[smhd]")  # bounded: no backtracking on any input
_CHROMIUM_TIMEOUT_S = 120


class ReportError(RuntimeError):
    """The report cannot be printed; the message says why and what to do."""


def print_report(base: str, range_: str, out: Path, chromium: Path) -> int:
    """Print ``{base}/reports`` of the last ``range_`` to ``out``; returns the PDF's size in bytes.
    The API must answer without a key: Chromium cannot send one, and a sign-in page is not a report."""
    if not _RANGE.fullmatch(range_) or parse_duration_ms(range_) > MAX_RANGE_MS:
        raise ReportError(f"cannot report on range {range_!r}: give the last N s, m, h or d, up to 30d (e.g. 7d)")
    if not chromium.is_file():
        raise ReportError(
            f"cannot print: no Chromium at {chromium} (infra/install-deps.sh installs Debian's; --chromium)"
        )
    try:
        status = httpx.get(f"{base}/api/v1/services", params={"start": 0, "end": 1}, timeout=10).status_code
    except httpx.HTTPError as exc:
        raise ReportError(f"cannot reach the API at {base}: {exc} (start it: perfpulse up)") from None
    if status in (401, 403):
        raise ReportError(f"cannot print the report of {base}: the API asks for a key, which Chromium cannot send")
    with tempfile.TemporaryDirectory(prefix="perfpulse-report-") as profile:
        command = [
            str(chromium), "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--no-pdf-header-footer",
            # virtual time stands still while requests are pending: the page prints once its answers arrived
            "--virtual-time-budget=20000", f"--print-to-pdf={out.resolve()}",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),  # Chromium's sandbox refuses root
            f"{base}/reports?range={range_}&refresh=off",
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_CHROMIUM_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"cannot print the report: Chromium took more than {_CHROMIUM_TIMEOUT_S} s") from None
    if done.returncode != 0 or not out.is_file() or out.read_bytes()[:5] != b"%PDF-":
        raise ReportError(f"cannot print the report: Chromium exited {done.returncode}: {done.stderr[-500:]}")
    return out.stat().st_size
