"""From series aggregates to :class:`~alerting.evaluate.WindowStats`: the stream stage's side of evaluation.

The stream stage owns the histograms; this module only says which series go together. It takes the
closing window's per-series aggregates (anything, ``T``), a ``merge`` that folds a list of them into
one :class:`Aggregate` (the stream stage merges histograms, schemas/sketch.py), and returns the stats
each selector needs, per group::

    plan = SelectorPlan(selectors(rules), window_ms=window_ms)  # once per rules version
    rows = [(row.name, {**row.labels, "service": row.service}, row) for row in closing_rows]
    stats = collect_stats(plan, rows, merge=merge_rows)
    result = evaluate(rules, WindowStats(close_ms, stats), states)

Rules with a ``window`` longer than the stream window read their selectors' ``window_ms``: plan
once per distinct window length, passing ``stream_window_ms`` so each plan holds only the selectors
of its length, collect each with the rows of that many windows, and merge the dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from alerting.rules.evaluate import GroupKey, Selector
from alerting.rules.matchers import MatchOp
from schemas.stats import Stat, window_stats

__all__ = ["Aggregate", "SelectorPlan", "collect_stats"]

T = TypeVar("T")


class Aggregate(Protocol):
    """A merged aggregate of one group over one window."""

    @property
    def count(self) -> float: ...  # observations (increments, for counters)

    @property
    def total(self) -> float: ...  # sum of the values

    @property
    def minimum(self) -> float: ...

    @property
    def maximum(self) -> float: ...

    @property
    def counter(self) -> bool: ...  # values are increments: rate is sum per second

    def quantile(self, q: float) -> float: ...  # q in (0, 1)


class SelectorPlan:
    """The selectors one :func:`collect_stats` call computes, with their stats, indexed for matching
    rows: by metric and, when a selector requires one service (``service="x"``), by service too, so
    that with a rule per service a row is checked against its service's rules only. Build it once per
    rules version and window length: evaluation runs at every window close.

    ``window_ms`` is the span the rows cover (it divides ``rate``). With ``stream_window_ms`` given,
    only the selectors whose window is ``window_ms`` long are planned (a selector without a window of
    its own reads one stream window); without it, every selector is.
    """

    def __init__(
        self, needed: Mapping[Selector, frozenset[Stat]], *, window_ms: int, stream_window_ms: int | None = None
    ) -> None:
        self.window_ms = window_ms
        self.wanted = {
            s: stats
            for s, stats in needed.items()
            if stream_window_ms is None or (s.window_ms or stream_window_ms) == window_ms
        }
        self._by_service: dict[tuple[str, str], list[Selector]] = {}
        self._by_metric: dict[str, list[Selector]] = {}
        for selector in self.wanted:
            service = next((m.value for m in selector.matchers if m.name == "service" and m.op is MatchOp.EQ), None)
            if service is None:
                self._by_metric.setdefault(selector.metric, []).append(selector)
            else:
                self._by_service.setdefault((selector.metric, service), []).append(selector)

    def candidates(self, metric: str, labels: Mapping[str, str]) -> list[Selector]:
        """The selectors a series of ``metric`` with ``labels`` may belong to."""
        found = self._by_service.get((metric, labels.get("service", "")), [])
        wide = self._by_metric.get(metric, [])
        return found + wide if found and wide else found or wide


def collect_stats(
    plan: SelectorPlan,
    rows: Iterable[tuple[str, Mapping[str, str], T]],
    *,
    merge: Callable[[list[T]], Aggregate],
) -> dict[Selector, dict[GroupKey, dict[Stat, float]]]:
    """Stats per planned selector and group from ``(metric, labels with service, aggregate)`` rows;
    a selector no row matched is absent."""
    members: dict[Selector, dict[GroupKey, list[T]]] = {}
    for metric, labels, aggregate in rows:
        for selector in plan.candidates(metric, labels):
            group = selector.group_of(metric, labels)
            if group is not None:
                members.setdefault(selector, {}).setdefault(group, []).append(aggregate)
    out: dict[Selector, dict[GroupKey, dict[Stat, float]]] = {}
    for selector, groups in members.items():
        out[selector] = {}
        for group, parts in groups.items():
            merged = merge(parts)
            out[selector][group] = window_stats(
                count=merged.count,
                total=merged.total,
                minimum=merged.minimum,
                maximum=merged.maximum,
                quantile=merged.quantile,
                counter=merged.counter,
                window_ms=plan.window_ms,
                wanted=plan.wanted[selector],
            )
    return out
