"""collect_stats: series aggregates to per-selector, per-group stats, then evaluation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerting.rules import RuleSet, SelectorPlan, State, WindowStats, collect_stats, evaluate, selectors
from schemas.stats import Stat


@dataclass
class Values:
    """A stand-in for a merged digest: raw values, exact quantiles."""

    values: list[float]
    counter: bool = False

    @property
    def count(self) -> float:
        return len(self.values)

    @property
    def total(self) -> float:
        return sum(self.values)

    @property
    def minimum(self) -> float:
        return min(self.values)

    @property
    def maximum(self) -> float:
        return max(self.values)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.values)
        return ordered[round(q * (len(ordered) - 1))]


def merge(parts: list[Values]) -> Values:
    return Values([v for p in parts for v in p.values], parts[0].counter)


def test_rows_are_filtered_grouped_merged_and_evaluated(rules_text: Callable[..., RuleSet]) -> None:
    rules = rules_text("""\
    alerts:
      - name: slow_api
        condition: 'response_time.max{route!="/health"} > 200'
      - name: errors
        condition: error_rate > 0.05
      - name: slow_minute
        condition: response_time.p50 > 100
        window: 30s
    """)
    rows = [
        ("http.server.duration", {"service": "gateway", "route": "/a"}, Values([100.0, 250.0])),
        ("http.server.duration", {"service": "gateway", "route": "/health"}, Values([900.0])),
        ("http.server.duration", {"service": "frontend", "route": "/"}, Values([50.0])),
        ("span.calls", {"service": "gateway", "operation": "x"}, Values([60.0], counter=True)),
        ("span.calls", {"service": "gateway", "operation": "y"}, Values([40.0], counter=True)),
        ("span.errors", {"service": "gateway", "operation": "y"}, Values([10.0], counter=True)),
    ]
    plan = SelectorPlan(selectors(rules), window_ms=10_000, stream_window_ms=10_000)
    stats = collect_stats(plan, rows, merge=merge)
    assert all(s.window_ms is None for s in stats), "the 30 s rule waits for its own call"
    by_metric = {s.metric: v for s, v in stats.items()}
    assert by_metric["http.server.duration"] == {
        (("service", "gateway"),): {Stat.MAX: 250.0},
        (("service", "frontend"),): {Stat.MAX: 50.0},
    }
    assert by_metric["span.calls"] == {(("service", "gateway"),): {Stat.SUM: 100.0}}
    longer_plan = SelectorPlan(selectors(rules), window_ms=30_000, stream_window_ms=10_000)
    assert [s.window_ms for s in longer_plan.wanted] == [30_000]
    longer = collect_stats(longer_plan, rows, merge=merge)
    assert [s.window_ms for s in longer] == [30_000]
    result = evaluate(rules, WindowStats(10_000, {**stats, **longer}), {})
    assert sorted((t.alert.rule, t.alert.group["service"], t.alert.state) for t in result.transitions) == [
        ("errors", "gateway", State.FIRING),
        ("slow_api", "gateway", State.FIRING),
        ("slow_minute", "gateway", State.FIRING),
    ]


def test_rules_pinned_to_a_service_see_only_its_rows_and_wide_rules_see_all(
    rules_text: Callable[..., RuleSet],
) -> None:
    rules = rules_text("""\
    alerts:
      - name: gateway_slow
        condition: 'response_time.max{service="gateway"} > 200'
      - name: frontend_slow
        condition: 'response_time.max{service="frontend", route="/"} > 200'
      - name: any_slow
        condition: response_time.max > 200
    """)
    rows = [
        ("http.server.duration", {"service": "gateway", "route": "/a"}, Values([250.0])),
        ("http.server.duration", {"service": "frontend", "route": "/"}, Values([50.0])),
        ("http.server.duration", {"service": "frontend", "route": "/b"}, Values([900.0])),
        ("http.server.duration", {"route": "/"}, Values([7.0])),
    ]
    stats = collect_stats(SelectorPlan(selectors(rules), window_ms=10_000), rows, merge=merge)
    by_pin = {next((m.value for m in s.matchers if m.name == "service"), None): v for s, v in stats.items()}
    assert by_pin["gateway"] == {(("service", "gateway"),): {Stat.MAX: 250.0}}
    assert by_pin["frontend"] == {(("service", "frontend"),): {Stat.MAX: 50.0}}
    assert by_pin[None] == {
        (("service", "gateway"),): {Stat.MAX: 250.0},
        (("service", "frontend"),): {Stat.MAX: 900.0},
        (("service", ""),): {Stat.MAX: 7.0},
    }
