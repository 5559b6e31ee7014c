"""From series aggregates to :class:`~alerting.evaluate.WindowStats`: the stream stage's side of evaluation.

The stream stage owns the digests; this module only says which series go together. It takes the
closing window's per-series aggregates (anything, ``T``), a ``merge`` that folds a list of them into
one :class:`Aggregate` (the stream stage merges t-digests), and returns the stats each selector
needs, per group::

    needed = selectors(rules)
    rows = [(row.name, {**row.labels, "service": row.service}, row) for row in closing_rows]
    stats = collect_stats(needed, rows, merge=merge_rows, window_ms=window_ms)
    result = evaluate(rules, WindowStats(close_ms, stats), states)

Rules with a ``window`` longer than the stream window read their selectors' ``window_ms``: call
:func:`collect_stats` once per distinct window length with the rows of that many windows, passing
``stream_window_ms`` so each call computes only the selectors of its length, and merge the dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from alerting.evaluate import GroupKey, Selector
from alerting.matchers import MatchOp
from alerting.stats import Stat, window_stats

__all__ = ["Aggregate", "collect_stats"]

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


class _SelectorIndex:
    """Selectors by metric and, when they require one service (``service="x"``), by service too:
    with a rule per service, a row is checked against its service's rules only, not all of them."""

    def __init__(self, selectors: Iterable[Selector]) -> None:
        self._by_service: dict[tuple[str, str], list[Selector]] = {}
        self._by_metric: dict[str, list[Selector]] = {}
        for selector in selectors:
            service = next((m.value for m in selector.matchers if m.name == "service" and m.op is MatchOp.EQ), None)
            if service is None:
                self._by_metric.setdefault(selector.metric, []).append(selector)
            else:
                self._by_service.setdefault((selector.metric, service), []).append(selector)

    def candidates(self, metric: str, labels: Mapping[str, str]) -> list[Selector]:
        found = self._by_service.get((metric, labels.get("service", "")), [])
        wide = self._by_metric.get(metric, [])
        return found + wide if found and wide else found or wide


def collect_stats(
    needed: Mapping[Selector, frozenset[Stat]],
    rows: Iterable[tuple[str, Mapping[str, str], T]],
    *,
    merge: Callable[[list[T]], Aggregate],
    window_ms: int,
    stream_window_ms: int | None = None,
) -> dict[Selector, dict[GroupKey, dict[Stat, float]]]:
    """Stats per selector and group from ``(metric, labels with service, aggregate)`` rows.

    ``window_ms`` is the span the rows cover (it divides ``rate``). With ``stream_window_ms`` given,
    only the selectors whose window is ``window_ms`` long are computed (a selector without a window
    of its own reads one stream window); without it, every selector is.
    """
    chosen = {
        s: stats
        for s, stats in needed.items()
        if stream_window_ms is None or (s.window_ms or stream_window_ms) == window_ms
    }
    index = _SelectorIndex(chosen)
    members: dict[Selector, dict[GroupKey, list[T]]] = {s: {} for s in chosen}
    for metric, labels, aggregate in rows:
        for selector in index.candidates(metric, labels):
            group = selector.group_of(metric, labels)
            if group is not None:
                members[selector].setdefault(group, []).append(aggregate)
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
                window_ms=window_ms,
                wanted=chosen[selector],
            )
    return out
