"""Alert evaluation at ticks: transitions in window order, a snapshot per evaluating tick, and a
restart that restores the snapshot and does not evaluate again what was evaluated."""

from __future__ import annotations

import numpy as np

from alerting.rules import RuleSet, parse_rules
from schemas import MetricKind, RollupRow
from schemas.alerts import StatesRecord, TransitionRecord, decode_states, encode_states
from stream.aggregate import SeriesAggregate
from stream.alerts import PartitionAlerts

WINDOW, GRACE = 1_000, 500
BASE = 1_800_000_000_000
RULES = """
alerts:
  - name: slow_gateway
    condition: http.server.duration.p95 > 200
    for: 2s
    severity: warning
"""


def ruleset() -> RuleSet:
    result = parse_rules(RULES, window_ms=WINDOW)
    assert result.rules is not None, result.errors
    return result.rules


def window_rows(start: int, latency_ms: float, service: str = "gateway") -> list[RollupRow]:
    aggregate = SeriesAggregate(MetricKind.DISTRIBUTION)
    aggregate.add(np.full(50, latency_ms))
    key = (service, "http.server.duration", MetricKind.DISTRIBUTION, (("route", "/a"),))
    return [aggregate.to_row(key, start, WINDOW, late=False)]


def described(records: list[TransitionRecord | StatesRecord]) -> list[tuple[str, str]]:
    """(kind, new state) per record: ("transition", state) or ("states", "")."""
    return [("transition", r.state.value) if isinstance(r, TransitionRecord) else ("states", "") for r in records]


def run(alerts: PartitionAlerts, latencies: list[float], first_tick: int = 0) -> list[list[tuple[str, str]]]:
    """One tick per window, each closing the window before it; returns (kind, new state) per tick."""
    out = []
    for i, latency in enumerate(latencies):
        start = BASE + i * WINDOW
        out.append(described(alerts.on_tick(first_tick + i, start + WINDOW + GRACE, window_rows(start, latency))))
    return out


def test_a_breach_goes_pending_then_firing_after_for_then_resolves() -> None:
    rules = ruleset()
    alerts = PartitionAlerts(WINDOW, GRACE, lambda: rules)
    ticks = run(alerts, [50, 300, 300, 300, 50])
    assert ticks == [
        [("states", "")],
        [("transition", "pending"), ("states", "")],
        [("states", "")],
        [("transition", "firing"), ("states", "")],
        [("transition", "resolved"), ("states", "")],
    ]


def test_the_group_is_the_service_and_the_value_the_merged_p95() -> None:
    rules = ruleset()
    alerts = PartitionAlerts(WINDOW, GRACE, lambda: rules)
    records = alerts.on_tick(0, BASE + WINDOW + GRACE, window_rows(BASE, 250) + window_rows(BASE, 10, "frontend"))
    [transition] = [r for r in records if isinstance(r, TransitionRecord)]
    assert transition.group == {"service": "gateway"} and transition.key == b"slow_gateway{service=gateway}"
    assert transition.value == 250.0 and transition.identity == (0, 0)


def test_a_restarted_partition_restores_the_snapshot_and_evaluates_nothing_twice() -> None:
    rules = ruleset()
    undisturbed = PartitionAlerts(WINDOW, GRACE, lambda: rules)
    full = run(undisturbed, [300, 300, 300, 50, 50])

    first = PartitionAlerts(WINDOW, GRACE, lambda: rules)
    emitted = run(first, [300, 300])  # ticks 0 and 1, then the worker dies
    snapshot = first.on_tick(2, BASE + 2 * WINDOW + WINDOW + GRACE, window_rows(BASE + 2 * WINDOW, 300))[-1]
    assert isinstance(snapshot, StatesRecord) and snapshot.tick_offset == 2

    restarted = PartitionAlerts(WINDOW, GRACE, lambda: rules)
    restarted.restore(decode_states(encode_states(snapshot)))  # as read back from alert-states
    # The replay starts from an earlier tick, with windows missing what came before it: skipped.
    assert restarted.on_tick(1, BASE + WINDOW + WINDOW + GRACE, window_rows(BASE + WINDOW, 10)) == []
    assert restarted.on_tick(2, BASE + 3 * WINDOW + GRACE, []) == []
    rest = [
        described(restarted.on_tick(
            3 + i, BASE + (3 + i) * WINDOW + WINDOW + GRACE, window_rows(BASE + (3 + i) * WINDOW, 50)
        ))
        for i in range(2)
    ]  # fmt: skip
    assert [*emitted, full[2], *rest] == full
    assert restarted.states == undisturbed.states


def test_an_idle_partition_evaluates_the_windows_its_ticks_pass_and_resolves_vanished_groups() -> None:
    rules = ruleset()
    alerts = PartitionAlerts(WINDOW, GRACE, lambda: rules)
    run(alerts, [300, 300, 300])  # firing
    records = alerts.on_tick(3, BASE + 5 * WINDOW + GRACE, [])  # two windows pass with no data
    assert [r.state for r in records if isinstance(r, TransitionRecord)] == ["resolved"]


def test_no_rules_no_records() -> None:
    alerts = PartitionAlerts(WINDOW, GRACE, lambda: None)
    assert alerts.on_tick(0, BASE + WINDOW + GRACE, window_rows(BASE, 500)) == []
