"""Series caps: how many series one window of one partition holds, in all and per service, so a
worker's memory stays bounded whatever services send (a label holding a request id, a hostile client
inventing names).

A point of a new series past a cap is not dropped: it is folded into an *overflow series* of its
metric, labelled ``overflow="true"`` (OpenTelemetry SDKs do the same past their cardinality limit,
with ``otel.metric.overflow``), so the metric's counts, sums and percentiles over all its series stay
right and only the split by labels is lost. Overflow series are bounded too: past ``max_overflow`` of
them in a window, points go to one series per kind, ``perfpulse.overflow`` of service ``_overflow``.
Every decision depends only on what the window already holds, so a replay decides the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from stream.aggregate import SeriesAggregate, SeriesKey

__all__ = ["OVERFLOW_LABELS", "OVERFLOW_METRIC", "OVERFLOW_SERVICE", "SeriesCaps", "WindowSeries"]

OVERFLOW_LABELS: Final = (("overflow", "true"),)
OVERFLOW_SERVICE: Final = "_overflow"
OVERFLOW_METRIC: Final = "perfpulse.overflow"


@dataclass(frozen=True, slots=True)
class SeriesCaps:
    """``max_series`` per window, ``max_per_service`` of one service per window, ``max_overflow``
    overflow series per window besides them."""

    max_series: int = 50_000
    max_per_service: int = 10_000
    max_overflow: int = 1_000

    def __post_init__(self) -> None:
        if min(self.max_series, self.max_per_service, self.max_overflow) < 1:
            raise ValueError(f"series caps must be positive, got {self}")


@dataclass(slots=True)
class WindowSeries:
    """The series of one window (or one tick's corrections) and what the caps count of them."""

    series: dict[SeriesKey, SeriesAggregate] = field(default_factory=dict)
    per_service: Counter[str] = field(default_factory=Counter)
    overflow: int = 0  # overflow series held

    def admit(self, key: SeriesKey, caps: SeriesCaps) -> tuple[SeriesKey, bool]:
        """The key ``key``'s points go to here, and whether it is an overflow series."""
        if key in self.series:
            return key, key[3] == OVERFLOW_LABELS
        service = key[0]
        if len(self.series) - self.overflow < caps.max_series and self.per_service[service] < caps.max_per_service:
            self.per_service[service] += 1
            return key, False
        spill: SeriesKey = (service, key[1], key[2], OVERFLOW_LABELS)
        if spill not in self.series and self.overflow >= caps.max_overflow:
            spill = (OVERFLOW_SERVICE, OVERFLOW_METRIC, key[2], OVERFLOW_LABELS)
        if spill not in self.series:
            self.overflow += 1
        return spill, True
