"""Pure rule evaluation at a window close: stats per group in, new states and transitions out.

The contract with the stream stage, which owns the data:

1. :func:`selectors` says what to compute: for each :class:`Selector` (metric, label matchers,
   group_by labels, window) the stats the rules compare.
2. At each window close the stream stage merges, per selector, the histograms of the matching series
   (:meth:`Selector.group_of` gives each series' group, None when it does not match) and computes
   the stats (:func:`schemas.stats.window_stats`), giving a :class:`WindowStats`.
3. :func:`evaluate` returns the new :class:`~alerting.state.AlertState` of every alert and the
   :class:`~alerting.alert.AlertTransition` list to publish on the ``alerts`` topic. The states are
   the caller's to keep (and persist: ``AlertState.to_dict``) for the next close.

Nothing here does I/O or reads a clock: the evaluation time is the window's close time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from alerting.rules.alert import Alert, AlertTransition
from alerting.rules.condition import Term
from alerting.rules.matchers import LabelMatcher
from alerting.rules.ruleset import Rule, RuleSet
from alerting.rules.state import AlertState, State, step
from schemas.stats import Stat

__all__ = [
    "AlertKey",
    "Evaluation",
    "GroupKey",
    "Selector",
    "WindowStats",
    "evaluate",
    "group_key",
    "retire",
    "selectors",
]

GroupKey = tuple[tuple[str, str], ...]  # the group's (label, value) pairs, in group_by order
AlertKey = tuple[str, GroupKey]  # (rule name, group)
RESOLVED_RETENTION_MS = 15 * 60_000  # how long a resolved alert is kept, so it can be re-sent (as Prometheus)
_COUNTING = frozenset({Stat.COUNT, Stat.SUM, Stat.RATE})


def group_key(labels: Mapping[str, str], group_by: Sequence[str]) -> GroupKey:
    """The group of a series with ``labels`` (its service included as ``service``); missing labels read ""."""
    return tuple((name, labels.get(name, "")) for name in group_by)


@dataclass(frozen=True, slots=True)
class Selector:
    """Which series one term of a rule reads, and how they are grouped."""

    metric: str
    matchers: tuple[LabelMatcher, ...]  # every one must match (the series' service is the label "service")
    group_by: tuple[str, ...]  # label names; () puts all matching series in one group
    window_ms: int | None  # stats over this much data ending at the close; None: the closing window alone
    # Selectors key the stats dicts of every evaluation: hashing the nested matchers once, not per lookup.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.metric, self.matchers, self.group_by, self.window_ms)))

    def __hash__(self) -> int:
        return self._hash

    def group_of(self, metric: str, labels: Mapping[str, str]) -> GroupKey | None:
        """The group a series contributes to, or None when the series is not selected."""
        if metric != self.metric or not all(m.matches(labels) for m in self.matchers):
            return None
        return group_key(labels, self.group_by)


def _selector(rule: Rule, term: Term) -> Selector:
    return Selector(term.metric, term.matchers + rule.condition.operand.matchers, rule.group_by, rule.window_ms)


@functools.lru_cache(maxsize=16_384)
def _operand_selectors(rule: Rule) -> tuple[Selector, Selector | None]:
    """The selectors of the rule's numerator and denominator terms. Rules are immutable and hash by
    identity, so each is built once, not at every evaluation of every rule."""
    operand = rule.condition.operand
    denominator = operand.denominator
    return _selector(rule, operand.numerator), _selector(rule, denominator) if isinstance(denominator, Term) else None


def selectors(rules: RuleSet | Iterable[Rule]) -> dict[Selector, frozenset[Stat]]:
    """Every selector the rules read, with the stats needed of it."""
    needed: dict[Selector, set[Stat]] = {}
    for rule in rules.rules if isinstance(rules, RuleSet) else rules:
        for term in rule.condition.operand.terms():
            needed.setdefault(_selector(rule, term), set()).add(term.stat)
    return {s: frozenset(stats) for s, stats in needed.items()}


@dataclass(frozen=True, slots=True)
class WindowStats:
    """The stats of one closed window, per selector and group: what :func:`evaluate` reads."""

    end_ms: int  # close time of the window (exclusive end), epoch ms: the evaluation time
    values: Mapping[Selector, Mapping[GroupKey, Mapping[Stat, float]]]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one evaluation: every alert's state (pending, firing and recently resolved
    ones; inactive alerts are not kept) and the transitions to publish."""

    states: dict[AlertKey, AlertState]
    transitions: list[AlertTransition]


def _value(stats: Mapping[Stat, float] | None, stat: Stat, *, zero_when_absent: bool) -> float:
    if stats is None or stat not in stats:
        return 0.0 if zero_when_absent and stat in _COUNTING else math.nan
    return float(stats[stat])


def _operand_values(rule: Rule, window: WindowStats) -> dict[GroupKey, float]:
    """The value the rule compares, per group that has data."""
    operand = rule.condition.operand
    numerator_selector, denominator_selector = _operand_selectors(rule)
    numerator = window.values.get(numerator_selector, {})
    denominator = operand.denominator
    if denominator is None:
        return {g: _value(s, operand.numerator.stat, zero_when_absent=False) for g, s in numerator.items()}
    if isinstance(denominator, float):
        return {
            g: _value(s, operand.numerator.stat, zero_when_absent=False) / denominator for g, s in numerator.items()
        }
    below = window.values.get(denominator_selector, {}) if denominator_selector is not None else {}
    out = {}
    for group, den_stats in below.items():
        den = _value(den_stats, denominator.stat, zero_when_absent=False)
        # A group with calls and no errors has no span.errors series at all: that is 0 errors, not no data.
        num = _value(numerator.get(group), operand.numerator.stat, zero_when_absent=True)
        out[group] = num / den if den and math.isfinite(den) else math.nan
    return out


def _alert(rule: Rule, group: GroupKey, state: AlertState) -> Alert:
    group_labels = dict(group)
    labels = rule.alert_labels(group_labels)
    return Alert(
        rule=rule.name,
        labels=labels,
        group=group_labels,
        annotations=rule.render_annotations(state.value, labels),
        severity=rule.severity.value,
        state=state.state,
        value=state.value,
        active_at_ms=state.active_at_ms,
        fired_at_ms=state.fired_at_ms,
        resolved_at_ms=state.resolved_at_ms,
        channels=rule.notification,
    )


def evaluate(
    rules: RuleSet | Iterable[Rule],
    window: WindowStats,
    states: Mapping[AlertKey, AlertState],
    *,
    resolved_retention_ms: int = RESOLVED_RETENTION_MS,
) -> Evaluation:
    """Evaluate every rule for every group that has data or a kept state.

    A group without data in this window evaluates as not breached (NaN), as a vanished series does
    in Prometheus: it resolves, unless ``keep_firing_for`` holds it. States of rules that are not in
    ``rules`` are dropped (see :func:`retire` to resolve them first on a reload).
    """
    rule_list = list(rules.rules if isinstance(rules, RuleSet) else rules)
    by_rule: dict[str, list[GroupKey]] = {}
    for rule_name, group in states:
        by_rule.setdefault(rule_name, []).append(group)
    out_states: dict[AlertKey, AlertState] = {}
    transitions: list[AlertTransition] = []
    for rule in rule_list:
        values = _operand_values(rule, window)
        groups = list(values) + [g for g in by_rule.get(rule.name, ()) if g not in values]
        for group in groups:
            value = values.get(group, math.nan)
            key = (rule.name, group)
            new, change = step(states.get(key), rule.condition.breached(value), value, window.end_ms, rule)
            if change is not None:
                transitions.append(AlertTransition(_alert(rule, group, new), change.previous, change.at_ms))
            keep = new.state in (State.PENDING, State.FIRING) or (
                new.state is State.RESOLVED and window.end_ms - (new.resolved_at_ms or 0) < resolved_retention_ms
            )
            if keep:
                out_states[key] = new
    return Evaluation(out_states, transitions)


def retire(
    previous: RuleSet | Iterable[Rule],
    current: RuleSet | Iterable[Rule],
    states: Mapping[AlertKey, AlertState],
    at_ms: int,
) -> Evaluation:
    """On a rules reload: resolve the firing alerts of rules that are gone or whose condition changed.

    Returns the states to keep (those of unchanged rules) and resolved transitions for the rest, so
    receivers hear that those alerts ended rather than waiting for them to time out.
    """
    old = {r.name: r for r in (previous.rules if isinstance(previous, RuleSet) else previous)}
    new = {r.name: r for r in (current.rules if isinstance(current, RuleSet) else current)}
    kept: dict[AlertKey, AlertState] = {}
    transitions: list[AlertTransition] = []
    for key, state in states.items():
        name, group = key
        rule, replacement = old.get(name), new.get(name)
        unchanged = replacement is not None and rule is not None and _same(rule, replacement)
        if unchanged or (replacement is not None and rule is None):
            kept[key] = state
            continue
        if rule is not None and state.state is State.FIRING:
            resolved = AlertState(
                State.RESOLVED, state.value, at_ms, state.active_at_ms, state.fired_at_ms, at_ms, None
            )
            transitions.append(AlertTransition(_alert(rule, group, resolved), State.FIRING, at_ms))
    return Evaluation(kept, transitions)


def _same(a: Rule, b: Rule) -> bool:
    """Whether ``b`` evaluates like ``a`` (labels, condition and grouping), so its alerts carry over."""
    return (
        str(a.condition) == str(b.condition)
        and a.condition.operand.numerator == b.condition.operand.numerator
        and a.condition.operand.denominator == b.condition.operand.denominator
        and a.group_by == b.group_by
        and a.window_ms == b.window_ms
        and a.severity == b.severity
        and dict(a.labels) == dict(b.labels)
    )
