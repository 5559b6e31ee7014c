"""``perfpulse rules validate|test`` as a user runs them (a subprocess): exit codes, and every error
printed as ``file:line:column: reason``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from perfpulse.settings import DEFAULT_RULES

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "alerting" / "cases" / "spec_rules_test.yaml"


def perfpulse(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFPULSE_")}
    env["COLUMNS"] = "300"
    return subprocess.run(
        [sys.executable, "-m", "perfpulse", "rules", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )


def test_validate_accepts_the_shipped_rules() -> None:
    done = perfpulse("validate", "infra/alerts.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "infra/alerts.yaml: 8 rule(s), 5 channel(s)" in done.stderr
    # Channels whose variables are unset are disabled, with a warning naming the line.
    assert "infra/alerts.yaml:34:5: warning: channel 'slack' is disabled" in done.stdout


def test_validate_prints_every_error_with_its_position(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        textwrap.dedent(
            """\
            alerts:
              - name: slow
                condition: response_time.p95 >
                severity: loud
              - name: slow
                condition: error_rate > 0.1
            """
        )
    )
    done = perfpulse("validate", str(broken))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines == [
        f"{broken}:3:35: alert 'slow': expected a number after '>', found 'the end'",
        f"{broken}:4:15: alert 'slow': unknown severity 'loud'; expected critical, warning or info",
    ], done.stdout
    assert "2 error(s)" in done.stderr
    missing = perfpulse("validate", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 1 and "cannot read the rules file" in missing.stderr


def test_rule_unit_tests_pass_and_fail_with_exit_codes(tmp_path: Path) -> None:
    passed = perfpulse("test", str(DEFAULT_RULES), str(CASES))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "3 test(s) passed" in passed.stderr
    failing = tmp_path / "cases.yaml"
    failing.write_text(
        textwrap.dedent(
            """\
            window: 10s
            tests:
              - name: a quick gateway does not fire
                input_series:
                  - series: 'http.server.duration{service="gateway"}'
                    values: "50 60 70"
                alert_rule_test:
                  - eval_time: 20s
                    alertname: high_response_time
                    exp_alerts:
                      - labels: {service: gateway}
            """
        )
    )
    failed = perfpulse("test", "infra/alerts.yaml", str(failing))
    assert failed.returncode == 1
    assert "FAIL a quick gateway does not fire: at 20s, alert 'high_response_time'" in failed.stdout
    assert "1 of 1 test(s) failed" in failed.stderr
    unusable = tmp_path / "unusable.yaml"
    unusable.write_text("tests: [{name: x, input_series: [{values: '1 2'}]}]\n")
    errored = perfpulse("test", "infra/alerts.yaml", str(unusable))
    assert errored.returncode == 1 and f"{unusable}:1:" in errored.stdout
