"""The pure evaluator: stats per group in, states and transitions out."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping

import pytest

from alerting.rules import (
    AlertKey,
    AlertState,
    GroupKey,
    RuleSet,
    Selector,
    State,
    WindowStats,
    evaluate,
    retire,
    selectors,
    transition_from_record,
    transition_record,
)
from alerting.rules.matchers import LabelMatcher
from schemas.alerts import decode_transition, encode_transition
from schemas.stats import Stat

W = 10_000
RULES = """\
channels: {hook: {type: webhook, url: "http://127.0.0.1:1/h"}}
alerts:
  - name: high_response_time
    condition: response_time.p95 > 200
    for: 20s
    severity: warning
    notification: [hook]
    annotations: {summary: "p95 of {{ $labels.service }} is {{ $value }} ms"}
  - name: high_error_rate
    condition: error_rate > 0.05
    severity: critical
    notification: [hook]
  - name: memory_threshold
    condition: memory_usage > 0.8
  - name: task_queue_backup
    condition: task_queue_length > 100
    keep_firing_for: 20s
"""

Data = Mapping[str, Mapping[str, Mapping[Stat, float]]]  # metric -> service -> stats


def window(ruleset: RuleSet, end_ms: int, data: Data) -> WindowStats:
    """Stats per selector, grouped by service, as the stream stage would compute them."""
    values: dict[Selector, Mapping[GroupKey, Mapping[Stat, float]]] = {}
    for selector in selectors(ruleset):
        assert selector.group_by == ("service",)
        per_service = data.get(selector.metric, {})
        values[selector] = {(("service", svc),): dict(stats) for svc, stats in per_service.items()}
    return WindowStats(end_ms, values)


@pytest.fixture
def ruleset(rules_text: Callable[..., RuleSet]) -> RuleSet:
    return rules_text(RULES)


def test_selectors_say_what_to_compute(ruleset: RuleSet) -> None:
    needed = {(s.metric, s.group_by): stats for s, stats in selectors(ruleset).items()}
    assert needed == {
        ("http.server.duration", ("service",)): {Stat.P95},
        ("span.errors", ("service",)): {Stat.SUM},
        ("span.calls", ("service",)): {Stat.SUM},
        ("process.memory.rss_bytes", ("service",)): {Stat.AVG},
        ("process.memory.limit_bytes", ("service",)): {Stat.AVG},
        ("ai.task.queue_length", ("service",)): {Stat.MAX},
    }


def test_selector_groups_and_filters_series() -> None:
    selector = Selector(
        "http.server.duration", (LabelMatcher.of("route", "!=", "/health"),), ("service", "route"), None
    )
    assert selector.group_of("http.server.duration", {"service": "gateway", "route": "/api"}) == (
        ("service", "gateway"),
        ("route", "/api"),
    )
    assert selector.group_of("http.server.duration", {"service": "gateway", "route": "/health"}) is None
    assert selector.group_of("other", {"service": "gateway", "route": "/api"}) is None
    assert selector.group_of("http.server.duration", {"service": "gateway"}) == (("service", "gateway"), ("route", ""))


def test_latency_rule_goes_pending_then_fires_for_the_slow_group_only(ruleset: RuleSet) -> None:
    states: dict[AlertKey, AlertState] = {}
    fired = []
    for i in range(4):
        data = {"http.server.duration": {"gateway": {Stat.P95: 250.0 + i}, "frontend": {Stat.P95: 80.0}}}
        result = evaluate(ruleset, window(ruleset, (i + 1) * W, data), states)
        states = result.states
        fired += [(t.previous, t.alert.state, t.at_ms) for t in result.transitions]
    assert fired == [(State.INACTIVE, State.PENDING, W), (State.PENDING, State.FIRING, 3 * W)]
    assert set(states) == {("high_response_time", (("service", "gateway"),))}
    last = evaluate(ruleset, window(ruleset, 5 * W, {"http.server.duration": {"gateway": {Stat.P95: 90.0}}}), states)
    (resolved,) = last.transitions
    alert = resolved.alert
    assert (resolved.previous, alert.state, alert.resolved_at_ms, alert.fired_at_ms) == (
        State.FIRING,
        State.RESOLVED,
        5 * W,
        3 * W,
    )
    assert alert.labels == {"alertname": "high_response_time", "severity": "warning", "service": "gateway"}
    assert alert.channels == ("hook",) and alert.group == {"service": "gateway"}
    assert alert.annotations["summary"] == "p95 of gateway is 90 ms"


def test_error_rate_is_errors_over_calls(ruleset: RuleSet) -> None:
    data = {
        "span.calls": {"gateway": {Stat.SUM: 200.0}, "frontend": {Stat.SUM: 100.0}, "idle": {Stat.SUM: 0.0}},
        "span.errors": {"gateway": {Stat.SUM: 20.0}},  # frontend had no failed span: no series at all
    }
    result = evaluate(ruleset, window(ruleset, W, data), {})
    (transition,) = result.transitions
    assert transition.alert.rule == "high_error_rate" and transition.alert.group == {"service": "gateway"}
    assert transition.alert.value == pytest.approx(0.1) and transition.alert.severity == "critical"
    assert transition.alert.annotations["summary"] == "high_error_rate: error_rate > 0.05 (value 0.1; service=gateway)"
    assert ("high_error_rate", (("service", "frontend"),)) not in result.states


def test_errors_without_calls_are_no_value() -> None:
    from alerting.rules.evaluate import _operand_values
    from alerting.rules.ruleset import parse_rules

    rules = parse_rules("alerts: [{name: e, condition: error_rate > 0.05}]").rules
    assert rules is not None
    values = _operand_values(
        rules.rules[0], window(rules, W, {"span.calls": {"a": {Stat.SUM: 0.0}}, "span.errors": {"b": {Stat.SUM: 3.0}}})
    )
    assert set(values) == {(("service", "a"),)} and math.isnan(values[(("service", "a"),)])


def test_memory_ratio_and_queue_max(ruleset: RuleSet) -> None:
    data = {
        "process.memory.rss_bytes": {"orchestrator": {Stat.AVG: 450e6}, "gateway": {Stat.AVG: 300e6}},
        "process.memory.limit_bytes": {"orchestrator": {Stat.AVG: 500e6}, "gateway": {Stat.AVG: 500e6}},
        "ai.task.queue_length": {"orchestrator": {Stat.MAX: 140.0}},
    }
    result = evaluate(ruleset, window(ruleset, W, data), {})
    assert sorted((t.alert.rule, t.alert.group["service"], round(t.alert.value, 2)) for t in result.transitions) == [
        ("memory_threshold", "orchestrator", 0.9),
        ("task_queue_backup", "orchestrator", 140.0),
    ]


def test_a_group_without_data_resolves_unless_kept_firing(ruleset: RuleSet) -> None:
    queue = {"ai.task.queue_length": {"orchestrator": {Stat.MAX: 140.0}}}
    memory = {"process.memory.rss_bytes": {"x": {Stat.AVG: 9.0}}, "process.memory.limit_bytes": {"x": {Stat.AVG: 10.0}}}
    states = evaluate(ruleset, window(ruleset, W, {**queue, **memory}), {}).states
    result = evaluate(ruleset, window(ruleset, 2 * W, {}), states)
    assert [(t.alert.rule, t.alert.state) for t in result.transitions] == [("memory_threshold", State.RESOLVED)]
    kept = result.states[("task_queue_backup", (("service", "orchestrator"),))]
    assert kept.state is State.FIRING and kept.value == 140.0, "keep_firing_for holds it with its last value"
    for end in (3 * W, 4 * W):
        result = evaluate(ruleset, window(ruleset, end, {}), result.states)
    assert [(t.alert.rule, t.alert.state) for t in result.transitions] == [("task_queue_backup", State.RESOLVED)]


def test_resolved_alerts_are_forgotten_after_the_retention(ruleset: RuleSet) -> None:
    states = evaluate(ruleset, window(ruleset, W, {"ai.task.queue_length": {"o": {Stat.MAX: 140.0}}}), {}).states
    for end in (2 * W, 3 * W, 4 * W):
        states = evaluate(ruleset, window(ruleset, end, {}), states).states
    assert next(iter(states.values())).state is State.RESOLVED
    assert (
        evaluate(ruleset, window(ruleset, 4 * W + 15 * 60_000, {}), states, resolved_retention_ms=15 * 60_000).states
        == {}
    )


def test_restart_while_firing_continues_without_a_second_firing(ruleset: RuleSet) -> None:
    data = {"http.server.duration": {"gateway": {Stat.P95: 300.0}}}
    states: dict[AlertKey, AlertState] = {}
    for i in range(1, 5):
        states = evaluate(ruleset, window(ruleset, i * W, data), states).states
    # persist as JSON (the stream stage keeps them across restarts) and load into a new process
    saved = json.dumps([[name, list(map(list, group)), s.to_dict()] for (name, group), s in states.items()])
    restored = {(name, tuple(tuple(p) for p in group)): AlertState.from_dict(s) for name, group, s in json.loads(saved)}
    after = evaluate(ruleset, window(ruleset, 5 * W, data), restored)
    assert after.transitions == [] and after.states == states | after.states
    replay = evaluate(ruleset, window(ruleset, 4 * W, data), restored)
    assert replay.transitions == [], "a replayed window close changes nothing"
    resolved = evaluate(ruleset, window(ruleset, 6 * W, {}), after.states)
    assert [(t.previous, t.alert.state, t.alert.fired_at_ms) for t in resolved.transitions] == [
        (State.FIRING, State.RESOLVED, 3 * W)
    ]


def test_label_filters_select_series(rules_text: Callable[..., RuleSet]) -> None:
    rules = rules_text("alerts: [{name: gw, condition: 'response_time.p99{service=\"gateway\"} > 500'}]")
    (selector,) = selectors(rules)
    assert [str(m) for m in selector.matchers] == ['service="gateway"']
    stats = WindowStats(W, {selector: {(("service", "gateway"),): {Stat.P99: 600.0}}})
    assert [t.alert.rule for t in evaluate(rules, stats, {}).transitions] == ["gw"]


def test_rule_windows_and_group_by_reach_the_selector(rules_text: Callable[..., RuleSet]) -> None:
    rules = rules_text(
        "alerts: [{name: r, condition: response_time.p95 > 1, window: 1m, group_by: [service, route]}]", window_ms=W
    )
    (selector,) = selectors(rules)
    assert selector.window_ms == 60_000 and selector.group_by == ("service", "route")


def test_transitions_encode_for_the_alerts_topic(ruleset: RuleSet) -> None:
    result = evaluate(
        ruleset,
        window(ruleset, W, {"span.calls": {"gw": {Stat.SUM: 10.0}}, "span.errors": {"gw": {Stat.SUM: 5.0}}}),
        {},
    )
    (transition,) = result.transitions
    decoded = transition_from_record(decode_transition(encode_transition(transition_record(transition, 7, 0))))
    assert decoded.alert.to_dict() == transition.alert.to_dict()
    assert (decoded.previous, decoded.at_ms, decoded.alert.key) == (State.INACTIVE, W, "high_error_rate{service=gw}")


def test_retire_resolves_alerts_of_removed_or_changed_rules(
    ruleset: RuleSet, rules_text: Callable[..., RuleSet]
) -> None:
    data = {"ai.task.queue_length": {"o": {Stat.MAX: 140.0}}, "http.server.duration": {"g": {Stat.P95: 900.0}}}
    states = evaluate(ruleset, window(ruleset, W, data), {}).states
    assert {k[0] for k in states} == {"task_queue_backup", "high_response_time"}
    changed = rules_text("""\
    alerts:
      - name: task_queue_backup
        condition: task_queue_length > 500
      - name: high_response_time
        condition: response_time.p95 > 200
        for: 20s
        severity: warning
        notification: [hook]
    channels: {hook: {type: webhook, url: "http://127.0.0.1:1/h"}}
    """)
    result = retire(ruleset, changed, states, 2 * W)
    assert [(t.alert.rule, t.previous, t.alert.state) for t in result.transitions] == [
        ("task_queue_backup", State.FIRING, State.RESOLVED)
    ]
    assert set(result.states) == {("high_response_time", (("service", "g"),))}, (
        "unchanged rules keep their pending state"
    )
    gone = retire(ruleset, rules_text("alerts: []"), states, 2 * W)
    assert [t.alert.rule for t in gone.transitions] == ["task_queue_backup"] and gone.states == {}
