"""The channels of a rules file: settings, ``${VAR}``, secrets, every error with its file, line and
column; checking without the environment; both readers of one file joined; reloading on change."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from alerting.notify import (
    Channel,
    ChannelsWatcher,
    ChannelType,
    FileCheck,
    check_channels,
    load_channels,
    parse_channels,
)
from alerting.notify.channels import EmailSettings, WebhookSettings
from alerting.rules import parse_rules

GOOD = """\
channels:
  ops-webhook: {type: webhook, url: "http://127.0.0.1:9000/hook", secret: "${HOOK_SECRET}"}
  slack: {type: slack, url: "${SLACK_WEBHOOK_URL}"}
alerts: [{name: slow, condition: response_time.p95 > 200, notification: [ops-webhook, slack]}]
"""
ENV = {"HOOK_SECRET": "s3cr3t", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/XTOKEN"}


def errors_of(text: str) -> list[tuple[int, int, str]]:
    result = parse_channels(textwrap.dedent(text), file="r.yaml", env={})
    assert result.channels is None, "expected errors"
    return [(e.line, e.column, e.reason) for e in result.errors]


def test_a_good_file_yields_every_channel_with_its_secrets_hidden() -> None:
    result = parse_channels(GOOD, file="r.yaml", env=ENV)
    assert result.errors == () and result.warnings == () and result.channels is not None
    webhook = result.channels["ops-webhook"]
    assert webhook.type is ChannelType.WEBHOOK and webhook.enabled
    assert isinstance(webhook.settings, WebhookSettings) and webhook.settings.secret is not None
    assert webhook.settings.secret.reveal() == "s3cr3t"
    assert "s3cr3t" not in repr(result.channels), "secrets never show in reprs"
    assert "hooks.slack.com/services" not in repr(result.channels)
    described = str([c.to_dict() for c in result.channels.values()])
    assert "https://hooks.slack.com/****" in described and "XTOKEN" not in described and "s3cr3t" not in described


def test_env_substitution_defaults_and_escapes(channels_text: Callable[..., dict[str, Channel]]) -> None:
    channels = channels_text(
        """\
        channels:
          mail:
            type: email
            host: "${SMTP_HOST:-localhost}"
            port: "${SMTP_PORT}"
            from: "alerts$$@example.com"
            to: ["${TO_A}", "ops@example.com"]
        alerts: []
        """,
        env={"SMTP_PORT": "2525", "TO_A": "a@example.com"},
    )
    settings = channels["mail"].settings
    assert isinstance(settings, EmailSettings)
    assert (settings.host, settings.port, settings.sender, settings.to) == (
        "localhost",
        2525,
        "alerts$@example.com",
        ("a@example.com", "ops@example.com"),
    )


def test_missing_env_disables_the_channel_with_a_warning_naming_the_variable() -> None:
    result = parse_channels(GOOD, file="r.yaml", env={})
    assert result.channels is not None, result.errors
    assert not result.channels["slack"].enabled
    assert result.channels["ops-webhook"].disabled == "environment variable(s) HOOK_SECRET not set"
    assert [str(w) for w in result.warnings] == [
        "r.yaml:2:16: warning: channel 'ops-webhook' is disabled: environment variable(s) HOOK_SECRET not set",
        "r.yaml:3:10: warning: channel 'slack' is disabled: environment variable(s) SLACK_WEBHOOK_URL not set",
    ]


def test_an_unset_port_disables_an_email_channel(channels_text: Callable[..., dict[str, Channel]]) -> None:
    mail = channels_text('channels: {m: {type: email, host: h, from: a@b.c, to: [d@e.f], port: "${NO_PORT}"}}\n')["m"]
    assert mail.disabled == "environment variable(s) NO_PORT not set"


def test_malformed_env_reference_is_an_error() -> None:
    assert errors_of("""\
    channels:
      hook: {type: webhook, url: "http://x/${OOPS"}
    alerts: []
    """) == [(2, 31, "channel 'hook': unclosed '${' at character 10: expected '}'")]


def test_channel_errors_point_at_line_and_column_and_never_quote_secret_values() -> None:
    found = errors_of("""\
    channels:
      a: {type: carrier-pigeon}
      b: {type: webhook}
      c: {type: webhook, url: "ftp://secret-token@host/x"}
      d: {type: slack, url: ""}
      e: {type: email, host: h, from: nobody, to: [x@y.z], tls: maybe}
      f: {url: "http://h/"}
      g: {type: pagerduty, routing_key: k, severity: high}
    alerts: []
    """)
    assert found == [
        (
            2,
            13,
            "channel 'a': unknown type 'carrier-pigeon'; "
            "expected one of webhook, slack, pagerduty, email, alertmanager",
        ),
        (3, 6, "channel 'b' (webhook) needs 'url'"),
        (4, 28, "channel 'c'.url must be an http(s) URL with a host"),
        (5, 25, "channel 'd'.url must not be empty"),
        (6, 35, "channel 'e'.from: 'nobody' is not an email address"),
        (6, 61, "channel 'e'.tls must be one of auto, starttls, ssl, none, found 'maybe'"),
        (7, 6, "channel 'f' needs a type: one of webhook, slack, pagerduty, email, alertmanager"),
        (
            8,
            40,
            "channel 'g': unknown key 'severity'; expected one of group_by, group_interval, group_wait, "
            "max_attempts, repeat_interval, routing_key, send_resolved, timeout, type, url",
        ),
    ]
    assert all("secret-token" not in reason for _, _, reason in found)


def test_section_errors() -> None:
    assert errors_of("defaults: {group_wait: soon}\nalerts: []\n") == [
        (1, 24, "defaults.group_wait: cannot read duration 'soon': expected e.g. '10s', '500ms', '1m'")
    ]
    assert errors_of("channels: [a]\nalerts: []\n") == [
        (1, 11, "channels must be a mapping (key: value), found a list")
    ]
    assert parse_channels("", env={}).channels == {}, "an empty file has no channels (the rules say it is empty)"


def test_defaults_and_channel_overrides(channels_text: Callable[..., dict[str, Channel]]) -> None:
    channels = channels_text("""\
    defaults: {group_wait: 0s, group_interval: 30s, repeat_interval: 1h, max_attempts: 3, group_by: [service]}
    channels:
      a: {type: webhook, url: "http://127.0.0.1:1/a"}
      b: {type: webhook, url: "http://127.0.0.1:1/b", repeat_interval: 5m, send_resolved: false, timeout: 2s}
      am: {type: alertmanager, url: "http://127.0.0.1:9093"}
    alerts: []
    """)
    a, b, am = channels["a"], channels["b"], channels["am"]
    assert (a.timing.group_wait_ms, a.timing.group_interval_ms, a.timing.repeat_interval_ms) == (0, 30_000, 3_600_000)
    assert a.retry.max_attempts == 3 and a.group_by == ("service",) and a.send_resolved
    assert b.timing.repeat_interval_ms == 300_000 and not b.send_resolved and b.retry.timeout_ms == 2_000
    assert am.timing.repeat_interval_ms == 60_000, "alertmanager keeps alerts alive with frequent resends"


def test_check_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text from outside is checked as written: no answer shows a variable's value or whether it is set."""
    monkeypatch.setenv("PERFPULSE_TEST_SECRET", "not-an-address-but-a-secret")
    monkeypatch.delenv("PERFPULSE_TEST_UNSET", raising=False)
    text = textwrap.dedent("""\
    channels:
      mail: {type: email, host: h, from: "${PERFPULSE_TEST_SECRET}", to: [x@y.z], port: "${PERFPULSE_TEST_SECRET}"}
      dark: {type: slack, url: "${PERFPULSE_TEST_UNSET}"}
      bad: {type: webhook, url: "http://h/${OOPS"}
      literal: {type: email, host: h, from: nobody, to: [x@y.z]}
    alerts: []
    """)
    result = check_channels(text, file="r.yaml")
    assert result.channels is None and result.warnings == ()
    assert [(e.line, e.column, e.reason) for e in result.errors] == [
        (4, 30, "channel 'bad': unclosed '${' at character 10: expected '}'"),
        (5, 41, "channel 'literal'.from: 'nobody' is not an email address"),
    ]
    resolved = parse_channels(text, file="r.yaml", env=os.environ)
    assert {
        "channel 'mail'.from: 'not-an-address-but-a-secret' is not an email address",
        "channel 'mail'.port must be a TCP port (1-65535)",
    } <= {e.reason for e in resolved.errors}, "resolving, as the notifier does, is what would show the value"
    assert "PERFPULSE_TEST_UNSET" in str(resolved.warnings[0])


def test_file_check_joins_both_readers_in_file_order_each_problem_once() -> None:
    text = textwrap.dedent("""\
    channels:
      hook: {type: webhook}
    alerts:
      - name: a
        condition: response_time.p95 >> 1
        notification: [nowhere]
    """)
    check = FileCheck.of(parse_rules(text, file="r.yaml"), check_channels(text, file="r.yaml"))
    assert not check.valid and check.rules is None and check.channels is None
    assert [str(e) for e in check.errors] == [
        "r.yaml:2:9: channel 'hook' (webhook) needs 'url'",
        "r.yaml:5:35: alert 'a': expected a number after '>', found '> 1'",
        "r.yaml:6:20: alert 'a': channel 'nowhere' is not defined under channels: (defined: hook)",
    ]
    broken = "alerts: [\n"
    joined = FileCheck.of(parse_rules(broken), parse_channels(broken, env={}))
    assert len(joined.errors) == 1 and joined.errors[0].reason.startswith("invalid YAML")
    good = FileCheck.of(parse_rules(GOOD), parse_channels(GOOD, env={}))
    assert good.valid and good.rules is not None and good.channels is not None and len(good.warnings) == 2


def test_load_channels_reports_an_unreadable_file(tmp_path: Path) -> None:
    result = load_channels(tmp_path / "missing.yaml", env={})
    assert result.channels is None
    assert result.errors[0].reason.startswith("cannot read the rules file: FileNotFoundError")


def test_watcher_applies_changed_channels_and_keeps_them_on_errors(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("channels: {a: {type: webhook, url: 'http://127.0.0.1:1/a'}}\nalerts: []\n")
    seen: list[Mapping[str, Channel]] = []
    watcher = ChannelsWatcher(path, env={}, on_change=seen.append)
    assert watcher.poll() is True and watcher.current is not None and list(watcher.current) == ["a"]
    assert watcher.poll() is False, "unchanged file: one stat, no reload"

    def rewrite(text: str) -> None:
        path.write_text(text)
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a visible mtime change

    rewrite("channels: {a: {type: webhook, url: 'http://127.0.0.1:1/a'}}\nalerts: [{name: x, condition: y}]\n")
    assert watcher.poll() is False and len(seen) == 1, "the rules changed, the channels did not"
    rewrite("channels: {a: {type: webhook}}\nalerts: []\n")
    assert watcher.poll() is False and watcher.errors and list(watcher.current) == ["a"], "errors keep channels"
    rewrite("channels: {b: {type: slack, url: '${SLACK}'}}\nalerts: []\n")
    assert watcher.poll() is True and list(watcher.current) == ["b"] and seen[-1] is watcher.current
    assert watcher.errors == () and "SLACK" in str(watcher.warnings[0])
