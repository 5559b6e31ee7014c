"""Rule unit tests (``perfpulse rules test``), promtool-style."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from alerting.rules import RuleSet
from alerting.rules.testing import parse_values, run_rule_tests, run_rule_tests_text

REPO = Path(__file__).resolve().parents[3]
CASES = REPO / "tests" / "alerting" / "cases" / "spec_rules_test.yaml"


def test_the_spec_rules_pass_their_cases() -> None:
    report = run_rule_tests(REPO / "infra" / "alerts.yaml", CASES)
    assert report.errors == [] and [str(f) for f in report.failures] == []
    assert report.tests == 3 and report.ok


def test_values_notation() -> None:
    assert parse_values("1 2+3x2 _ _x2 5-1x2 7x1 1e3") == [1, 2, 5, 8, None, None, None, 5, 4, 3, 7, 7, 1000]
    with pytest.raises(ValueError, match="cannot read value 'abc'"):
        parse_values("1 abc")


@pytest.fixture
def rules(rules_text: Callable[..., RuleSet]) -> RuleSet:
    return rules_text("""\
    alerts:
      - name: slow
        condition: response_time.p95 > 200
        for: 10s
        labels: {team: web}
      - name: slow_minute
        condition: response_time.p50 > 200
        window: 30s
    """)


def cases(text: str) -> str:
    return textwrap.dedent(text)


def test_failures_say_what_was_expected_and_what_came(rules: RuleSet) -> None:
    report = run_rule_tests_text(
        rules,
        cases("""\
    tests:
      - name: wrong expectation
        input_series:
          - metric: http.server.duration
            labels: {service: gateway}
            values: "300 300"
        alert_rule_test:
          - eval_time: 0s
            alertname: slow
            exp_alerts: [{labels: {service: gateway, team: web}}]
          - eval_time: 10s
            alertname: slow
            exp_alerts: []
          - eval_time: 10s
            alertname: nope
            exp_alerts: []
    """),
    )
    assert report.tests == 1 and not report.ok
    assert [str(f) for f in report.failures] == [
        "wrong expectation: at 0s, alert 'slow': expected firing {'service': 'gateway', 'team': 'web'}; "
        "unexpected: 1 alert(s); got: pending "
        "{'alertname': 'slow', 'service': 'gateway', 'severity': 'warning', 'team': 'web'} value=300",
        "wrong expectation: at 10s, alert 'slow': expectations met; unexpected: 1 alert(s); "
        "got: firing {'alertname': 'slow', 'service': 'gateway', 'severity': 'warning', 'team': 'web'} value=300",
        "wrong expectation: at 10s, alert 'nope': no rule of that name in the rules file",
    ]


def test_groups_pool_series_and_rule_windows_span_several_windows(rules: RuleSet) -> None:
    report = run_rule_tests_text(
        rules,
        cases("""\
    window: 10s
    tests:
      - name: two routes of one service are one group; a 30 s rule window pools three windows
        input_series:
          - series: 'http.server.duration{service="gateway", route="/a"}'
            values: "100 300 300"
          - series: 'http.server.duration{service="gateway", route="/b"}'
            values: "100 300 300"
        alert_rule_test:
          - eval_time: 10s
            alertname: slow_minute
            exp_alerts: []
          - eval_time: 20s
            alertname: slow_minute
            exp_alerts: [{labels: {service: gateway}}]
    """),
    )
    assert report.ok, [str(f) for f in report.failures]


def test_cases_file_errors_have_positions(rules: RuleSet) -> None:
    report = run_rule_tests_text(
        rules,
        cases("""\
    tests:
      - name: bad
        input_series:
          - series: 'http.server.duration{service="gateway"'
            values: "1 x"
          - values: "1"
        alert_rule_test:
          - eval_time: 15s
            alertname: slow
            exp_alerts: [{state: resolved}]
          - alertname: slow
    """),
        cases_file="c.yaml",
    )
    assert [str(e) for e in report.errors] == [
        "c.yaml:4:56: series: unclosed '{': expected ',' or '}'",
        "c.yaml:5:20: cannot read value 'x': expected a number, '_', 'a+bxn', 'axn' or '_xn'",
        "c.yaml:6:9: input series needs 'series' or 'metric'",
        "c.yaml:8:20: eval_time must be a multiple of the window (10000 ms)",
        "c.yaml:10:30: state must be pending or firing, found 'resolved'",
        "c.yaml:11:9: alert_rule_test entry needs 'eval_time'",
    ]
    assert run_rule_tests_text(rules, "tests: [", cases_file="c.yaml").errors[0].reason.startswith("invalid YAML")


def test_rules_file_errors_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("alerts: [{name: a, condition: 'x > 1'}]\n")
    report = run_rule_tests(bad, CASES)
    assert [str(e) for e in report.errors] == [
        f"{bad}:1:32: alert 'a': 'x' is neither an alias (cpu_usage, error_rate, memory_usage, response_time, "
        "task_queue_length) nor <metric>.<stat> with stat one of "
        "p50, p90, p95, p99, p999, min, max, avg, count, sum, rate"
    ]
