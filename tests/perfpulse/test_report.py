"""perfpulse/report.py refuses what it cannot print before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfpulse.report import ReportError, print_report


@pytest.mark.parametrize("range_", ["45d", "7w", "0d", "-1h", "1h; rm -rf /", "9" * 10_000 + "d"])
def test_a_range_the_dashboard_cannot_show_is_refused_by_value(range_: str, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot report on range"):
        print_report("http://127.0.0.1:9", range_, tmp_path / "r.pdf", Path("/usr/bin/chromium"))
    assert not (tmp_path / "r.pdf").exists()


def test_a_missing_chromium_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no Chromium at /nowhere/chromium"):
        print_report("http://127.0.0.1:9", "7d", tmp_path / "r.pdf", Path("/nowhere/chromium"))


def test_an_unreachable_api_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"cannot reach the API at http://127\.0\.0\.1:9"):
        print_report("http://127.0.0.1:9", "7d", tmp_path / "r.pdf", Path("/bin/sh"))
