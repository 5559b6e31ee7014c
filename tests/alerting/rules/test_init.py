"""What importing the rules package costs: what the stream stage loads to evaluate rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_importing_alerting_rules_loads_nothing_of_notification() -> None:
    """No channels, secrets, ``${VAR}`` substitution, rule test runner nor editor: a fresh interpreter
    shows what ``import alerting.rules`` really loads."""
    probe = (
        "import sys, alerting.rules\n"
        "print(' '.join(m for m in sys.modules if m.startswith('alerting.notify')"
        " or m in ('alerting.rules.testing', 'alerting.rules.editor')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
