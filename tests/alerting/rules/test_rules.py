"""Loading and validating the rules of rules files: every error with its file, line and column.

Channel settings are the notifier's (tests/alerting/notify/test_channelsfile.py); here only their names count.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from alerting.rules import RuleSet, Severity, load_rules, parse_rules, validate_rules
from alerting.rules.ruleset import RulesInvalid
from schemas.stats import Stat
from tests.alerting.rules.shipped import SHIPPED_RULES

REPO = Path(__file__).resolve().parents[3]

GOOD = """\
channels:
  ops-webhook: {type: webhook, url: "http://127.0.0.1:9000/hook", secret: "${HOOK_SECRET}"}
  slack: {type: slack, url: "${SLACK_WEBHOOK_URL}"}
alerts:
  - name: high_response_time
    condition: response_time.p95 > 200
    for: 30s
    keep_firing_for: 1m
    severity: warning
    notification: [ops-webhook, slack]
    labels: {team: web}
    annotations:
      summary: "p95 {{ $value }} ms on {{ $labels.service }}"
  - name: gateway_errors
    condition: 'error_rate{service="gateway"} > 0.05'
    severity: critical
    group_by: [service, operation]
    window: 1m
    notification: ops-webhook
"""


def errors_of(text: str, **kwargs: object) -> list[tuple[int, int, str]]:
    result = parse_rules(textwrap.dedent(text), file="r.yaml", **kwargs)  # type: ignore[arg-type]
    assert result.rules is None, "expected errors"
    return [(e.line, e.column, e.reason) for e in result.errors]


def one_error(text: str, **kwargs: object) -> tuple[int, int, str]:
    found = errors_of(text, **kwargs)
    assert len(found) == 1, found
    return found[0]


def test_a_good_file_loads_everything() -> None:
    result = parse_rules(GOOD, file="r.yaml")
    assert result.errors == ()
    rules = result.rules
    assert isinstance(rules, RuleSet)
    first, second = rules.rules
    assert (first.name, first.for_ms, first.keep_firing_for_ms, first.severity) == (
        "high_response_time",
        30_000,
        60_000,
        Severity.WARNING,
    )
    assert first.notification == ("ops-webhook", "slack") and first.group_by == ("service",) and first.window_ms is None
    assert first.line == 5
    assert first.alert_labels({"service": "gateway"}) == {
        "alertname": "high_response_time",
        "severity": "warning",
        "service": "gateway",
        "team": "web",
    }
    assert first.render_annotations(250.5, {"service": "gateway"})["summary"] == "p95 250.5 ms on gateway"
    assert (
        second.group_by == ("service", "operation")
        and second.window_ms == 60_000
        and second.notification == ("ops-webhook",)
    )
    assert second.condition.operand.numerator.stat is Stat.SUM


def test_the_spec_rules_file_validates_without_any_secret() -> None:
    path = REPO / "infra" / "alerts.yaml"
    assert validate_rules(path) == []
    rules = load_rules(path)
    assert [r.name for r in rules.rules] == SHIPPED_RULES
    spec = {r.name: (str(r.condition), r.severity.value, set(r.notification)) for r in rules.rules}
    assert spec["high_response_time"][:2] == ("response_time.p95 > 200", "warning")
    assert spec["high_error_rate"][:2] == ("error_rate > 0.05", "critical")
    assert spec["memory_threshold"][:2] == ("memory_usage > 0.8", "warning")
    assert spec["task_queue_backup"][:2] == ("task_queue_length > 100", "warning")
    assert {"email", "slack"} <= spec["high_response_time"][2]
    assert {"email", "slack", "pagerduty"} <= spec["high_error_rate"][2]
    assert "email" in spec["memory_threshold"][2] and "slack" in spec["task_queue_backup"][2]


HEAD = """\
aliases: {r: http.server.duration}
channels: {hook: {type: webhook, url: 'http://127.0.0.1:1/h'}}
alerts:
  - name: x
"""  # the rule's own lines follow: 5 and 6


@pytest.mark.parametrize(
    ("rule", "line", "column", "reason"),
    [
        ("condition: response_time.p95 >> 200", 5, 35, "expected a number after '>'"),
        ("condition: 'response_time.p95{service=\"a\" > 200'", 5, 47, "expected ',' or '}'"),
        ('condition: "http.server.duration.p42 > 1"', 5, 38, "unknown stat 'p42'"),
        ("condition: response_time > 200", 5, 29, "'response_time' needs a stat"),
        ("condition: 42", 5, 16, "condition must be a string, found an int '42'"),
        ("condition: |\n      r.p95 > x", 6, 15, "expected a number after '>'"),
        ("condition: r.p95 > 1\n    severity: page", 6, 15, "unknown severity 'page'"),
        ("condition: r.p95 > 1\n    notification: [pager]", 6, 20, "channel 'pager' is not defined"),
        ("condition: r.p95 > 1\n    notification: [hook, hook]", 6, 26, "channel 'hook' is listed twice"),
        ("condition: r.p95 > 1\n    for: 30x", 6, 10, "cannot read duration '30x'"),
        ("condition: r.p95 > 1\n    keep_firing_for: [1]", 6, 22, "must be a duration"),
        ("condition: r.p95 > 1\n    window: 0s", 6, 13, "window must be positive"),
        ("condition: r.p95 > 1\n    labels: {severity: page}", 6, 24, "'severity' is set by the rule itself"),
        ("condition: r.p95 > 1\n    labels: [a]", 6, 13, "labels must be a mapping"),
        ("condition: r.p95 > 1\n    annotations: {s: '{{ $valu }}'}", 6, 23, "unknown template variable '$valu'"),
        (
            "condition: r.p95 > 1\n    annotations: {s: 'x {{ $value | round }}'}",
            6,
            25,
            "unknown template function 'round'",
        ),
        ("condition: r.p95 > 1\n    annotations: {s: 'x {{ $value'}", 6, 25, "unclosed '{{'"),
        ("condition: r.p95 > 1\n    group_by: [service, service]", 6, 25, "'service' is listed twice"),
        ("condition: r.p95 > 1\n    group_by: [service, 'a b']", 6, 26, "'a b' is not a label name"),
        ("condition: r.p95 > 1\n    group_by: [route]", 6, 15, "must include 'service'"),
        ("condition: r.p95 > 1\n    fore: 30s", 6, 5, "unknown key 'fore'"),
    ],
)
def test_rule_errors_point_at_line_and_column(rule: str, line: int, column: int, reason: str) -> None:
    found = errors_of(HEAD + f"    {rule}\n")
    assert len(found) == 1, found
    assert reason in found[0][2]
    assert found[0][:2] == (line, column)


def test_file_level_errors() -> None:
    assert one_error("alerts: [\n")[2].startswith("invalid YAML")
    assert one_error("") == (1, 1, "the rules file is empty: expected 'alerts:'")
    assert one_error("- a\n- b\n") == (1, 1, "the rules file must be a mapping (key: value), found a list")
    assert one_error("channels: {}\n") == (1, 1, "the rules file needs 'alerts:' (a list of rules; may be empty)")
    assert one_error("alerts: []\nalert: []\n") == (
        2,
        1,
        "the rules file: unknown key 'alert'; expected one of alerts, aliases, channels, defaults",
    )
    assert one_error("alerts: {}\n") == (1, 9, "alerts must be a list, found a mapping")
    line, column, reason = one_error("alerts: []\nalerts: []\n")
    assert (line, column) == (2, 1) and "duplicate key 'alerts' (first at line 1)" in reason


def test_yaml_syntax_error_position() -> None:
    line, _, reason = one_error("alerts:\n  - name: x\n    condition: 'unterminated\n")
    assert line == 4 and reason.startswith("invalid YAML: found unexpected end of stream")
    line, _, reason = one_error("alerts:\n  - name: x\n   bad: indent\n")
    assert line == 3 and reason.startswith("invalid YAML: expected <block end>")


def test_alert_level_errors() -> None:
    found = errors_of("""\
    alerts:
      - condition: response_time.p95 > 1
      - name: 'has space'
        condition: response_time.p95 > 1
      - name: ok
      - name: dup
        condition: response_time.p95 > 1
      - name: dup
        condition: response_time.p95 > 2
      - just a string
    """)
    assert found == [
        (2, 5, "alert #1 needs a name"),
        (3, 12, "alert 'has space': the name must start with a letter or '_' and use only [A-Za-z0-9_.:-]"),
        (5, 5, "alert 'ok' needs a condition, e.g. 'response_time.p95 > 200'"),
        (8, 5, "alert 'dup' is defined twice (first at line 6)"),
        (10, 5, "alert #6 must be a mapping (key: value), found a string 'just a string'"),
    ]


def test_alias_errors_and_overrides() -> None:
    assert one_error("aliases: {er: 'a.sum / b'}\nalerts: []\n") == (
        1,
        25,
        "alias 'er': a ratio needs a stat on both sides: "
        "write b.<stat> (p50, p90, p95, p99, p999, min, max, avg, count, sum, rate)",
    )
    assert one_error("aliases: {er.x: a.sum}\nalerts: []\n")[:2] == (1, 11)
    rules = parse_rules(
        "aliases: {latency: http.server.duration}\nalerts: [{name: a, condition: latency.p99 > 1}]\n"
    ).rules
    assert rules is not None and str(rules.rules[0].condition.operand.numerator) == "http.server.duration.p99"


def test_window_must_be_a_multiple_of_the_stream_window() -> None:
    text = "alerts: [{name: a, condition: response_time.p95 > 1, window: 15s}]\n"
    assert one_error(text, window_ms=10_000) == (
        1,
        62,
        "alert 'a': window must be a multiple of the stream window (10000 ms)",
    )
    assert parse_rules(text, window_ms=5_000).rules is not None


def test_load_rules_raises_with_every_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("alerts:\n  - name: a\n  - name: b\n")
    with pytest.raises(RulesInvalid) as info:
        load_rules(path)
    assert [str(e) for e in info.value.errors] == [
        f"{path}:2:5: alert 'a' needs a condition, e.g. 'response_time.p95 > 200'",
        f"{path}:3:5: alert 'b' needs a condition, e.g. 'response_time.p95 > 200'",
    ]
    assert validate_rules(tmp_path / "missing.yaml")[0].reason.startswith(
        "cannot read the rules file: FileNotFoundError"
    )


def test_rules_describe_themselves() -> None:
    result = parse_rules(GOOD, file="r.yaml")
    assert result.rules is not None
    rule = result.rules.rules[0].to_dict()
    assert rule["condition"] == "response_time.p95 > 200" and rule["for_ms"] == 30_000
    assert rule["annotations"] == {"summary": "p95 {{ $value }} ms on {{ $labels.service }}"}


def test_only_channel_names_are_read_here() -> None:
    """Settings, ``defaults:`` and ``${VAR}`` are the notifier's: broken ones do not stop the rules."""
    text = """\
    defaults: [not, a, mapping]
    channels:
      pigeon: {type: carrier-pigeon, url: "${UNCLOSED"}
    alerts: [{name: a, condition: response_time.p95 > 1, notification: [pigeon]}]
    """
    result = parse_rules(textwrap.dedent(text))
    assert result.errors == () and result.rules is not None
    assert result.rules.rules[0].notification == ("pigeon",)
    assert one_error("channels: [pigeon]\nalerts: []\n") == (
        1,
        11,
        "channels must be a mapping (key: value), found a list",
    )
