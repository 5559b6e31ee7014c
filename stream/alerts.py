"""Alert rules evaluated by the stream stage when a tick closes windows, per source partition.

A service's metric batches and spans are keyed by service, so everything one alert group (rule
``group_by`` always includes ``service``) reads is in one partition; each partition's worker
evaluates the windows its ticks close, in window order, and emits what changed.

Like the windows themselves this is deterministic in the partition's records: the alert state
after a tick is a function of the windows closed so far, and every tick that evaluated something
emits a ``states`` snapshot (schemas/alerts.py). A worker taking a partition over restores the
newest snapshot, whose ``evaluated_to_ms`` says which window ends were evaluated: the replayed
ticks up to the snapshot's close no window end past it (the watermark only grows with offsets), so
they evaluate nothing again — which matters, because they replay windows whose first records may
lie before the restart tick (that tick only precedes what was open when it was chosen). A rule with
a ``window`` longer than the stream window reads up to that much recent history, which a restart
rebuilds from the replay: for that long after a restart such a rule may read partial windows.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alerting.rules import (
    AlertKey,
    AlertState,
    RuleSet,
    SelectorPlan,
    WindowStats,
    collect_stats,
    evaluate,
    selectors,
    state_entry,
    state_from_entry,
    transition_record,
)
from schemas import MetricKind, RollupRow
from schemas.alerts import StatesRecord, TransitionRecord
from schemas.sketch import EMPTY, Histogram, merge, quantiles

__all__ = ["GroupAggregate", "PartitionAlerts", "merge_rows"]

log = logging.getLogger("perfpulse.stream.alerts")

MAX_CATCH_UP_WINDOWS = 60  # window ends evaluated at most per tick (an idle partition's gap is skipped)


@dataclass(slots=True)
class GroupAggregate:
    """The merged rows of one group in one or more windows (an alerting.rules.Aggregate)."""

    count: float
    total: float
    minimum: float
    maximum: float
    counter: bool
    hist: Histogram  # merged histogram of the rows (empty for counters)

    def quantile(self, q: float) -> float:
        """The quantile at ``q`` by schemas/sketch.py: what the query API answers for the same rows."""
        if self.counter or not len(self.hist.keys):
            return math.nan
        return quantiles(self.hist, [q], self.minimum, self.maximum)[0]


def merge_rows(rows: list[RollupRow]) -> GroupAggregate:
    """Merge window rows into one :class:`GroupAggregate`."""
    counter = any(r.kind is MetricKind.COUNTER for r in rows)
    return GroupAggregate(
        count=float(sum(r.count for r in rows)),
        total=float(sum(r.sum for r in rows)),
        minimum=min((r.min for r in rows), default=math.nan),
        maximum=max((r.max for r in rows), default=math.nan),
        counter=counter,
        hist=EMPTY if counter else merge([Histogram(r.keys, r.counts) for r in rows]),
    )


@dataclass
class PartitionAlerts:
    """The alert state of one source partition and its evaluation at ticks."""

    window_ms: int
    grace_ms: int
    rules: Callable[[], RuleSet | None]  # the rules in force (reloaded by the caller)
    states: dict[AlertKey, AlertState] = field(default_factory=dict)
    evaluated_to_ms: int | None = None  # end of the newest window evaluated
    _history: deque[tuple[int, list[RollupRow]]] = field(default_factory=deque)  # (window end, main rows)
    _plans: tuple[RuleSet, list[SelectorPlan]] | None = None  # per window length, for the rules in force

    def restore(self, snapshot: StatesRecord) -> None:
        """Take over the state a snapshot holds (see the module docstring)."""
        self.states = dict(state_from_entry(entry) for entry in snapshot.states)
        self.evaluated_to_ms = snapshot.evaluated_to_ms

    def on_tick(
        self, tick_offset: int, watermark_ms: int, rows: list[RollupRow]
    ) -> list[TransitionRecord | StatesRecord]:
        """Evaluate every window end the tick makes final; return the records to emit, in order:
        transitions, then one ``states`` snapshot (none when nothing was evaluated)."""
        ruleset = self.rules()
        closed_through = (watermark_ms - self.grace_ms) // self.window_ms * self.window_ms
        main = [r for r in rows if not r.late]
        if ruleset is None:
            self._remember(main, closed_through)
            return []
        first = closed_through - (MAX_CATCH_UP_WINDOWS - 1) * self.window_ms
        if self.evaluated_to_ms is not None:
            first = max(first, self.evaluated_to_ms + self.window_ms)
        ends = range(first, closed_through + 1, self.window_ms) if first <= closed_through else range(0)
        if not ends:
            self._remember(main, closed_through)
            return []
        by_end: dict[int, list[RollupRow]] = {}
        for row in main:
            by_end.setdefault(row.window_start_ms + row.window_ms, []).append(row)
        plans = self._plans_for(ruleset)
        transitions = []
        for end in ends:
            self._history.append((end, by_end.get(end, [])))
            window = WindowStats(end, self._stats(plans, end))
            outcome = evaluate(ruleset, window, self.states)
            self.states = outcome.states
            transitions.extend(outcome.transitions)
        self.evaluated_to_ms = ends[-1]
        self._trim(ruleset)
        records: list[TransitionRecord | StatesRecord] = [
            transition_record(t, tick_offset, seq) for seq, t in enumerate(transitions)
        ]
        records.append(self.snapshot(tick_offset))
        return records

    def _plans_for(self, ruleset: RuleSet) -> list[SelectorPlan]:
        """What the rules read, one plan per window length they use, made once per rules version
        (rules change rarely, windows close every second)."""
        if self._plans is None or self._plans[0] is not ruleset:
            needed = selectors(ruleset)
            spans = {s.window_ms or self.window_ms for s in needed}
            plans = [SelectorPlan(needed, window_ms=span, stream_window_ms=self.window_ms) for span in sorted(spans)]
            self._plans = (ruleset, plans)
        return self._plans[1]

    def _remember(self, main: list[RollupRow], closed_through: int) -> None:
        by_end: dict[int, list[RollupRow]] = {}
        for row in main:
            by_end.setdefault(row.window_start_ms + row.window_ms, []).append(row)
        for end in sorted(by_end):
            if end <= closed_through:
                self._history.append((end, by_end[end]))

    def _stats(self, plans: list[SelectorPlan], end: int) -> dict[Any, Any]:
        """Stats per selector: rules with a ``window`` of their own read that many windows."""
        out: dict[Any, Any] = {}
        for plan in plans:
            rows = [
                (row.name, {**row.labels, "service": row.service}, row)
                for window_end, window_rows in self._history
                if end - plan.window_ms < window_end <= end
                for row in window_rows
            ]
            out.update(collect_stats(plan, rows, merge=merge_rows))
        return out

    def _trim(self, ruleset: RuleSet) -> None:
        longest = max((r.window_ms or self.window_ms for r in ruleset.rules), default=self.window_ms)
        while self._history and self._history[0][0] <= (self.evaluated_to_ms or 0) - longest:
            self._history.popleft()

    def snapshot(self, tick_offset: int) -> StatesRecord:
        """The whole state after the tick at ``tick_offset`` (source partition set by the caller)."""
        entries = tuple(state_entry(key, state) for key, state in self.states.items())
        return StatesRecord(0, tick_offset, self.evaluated_to_ms, entries)
