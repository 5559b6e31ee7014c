"""The per-window aggregate of one series: count, sum, min, max and a histogram of the values.

Percentiles must stay mergeable, so a window keeps a histogram (schemas/sketch.py), never raw
values and never a percentile. Counters need none: their stats are sums and rates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from schemas import MetricKind, RollupRow
from schemas.sketch import EMPTY, from_keys, keys_of

__all__ = ["PENDING_KEYS", "SeriesAggregate", "SeriesKey"]

# Keys of recent batches are kept as they come and consolidated into the histogram once this many
# wait: one np.unique per ~16k values instead of one sort per batch, and memory stays bounded (a
# window's histogram holds one entry per distinct key, ~6,000 for values spanning four decades).
PENDING_KEYS = 16_384

# (service, name, kind, sorted label items): the identity of a series.
SeriesKey = tuple[str, str, MetricKind, tuple[tuple[str, str], ...]]


class SeriesAggregate:
    """Running aggregate of the values one series sent into one window."""

    __slots__ = ("_hist", "_pending_counts", "_pending_keys", "_pending_size", "count", "counter", "max", "min", "sum")

    def __init__(self, kind: MetricKind) -> None:
        self.count = 0  # observations: the sum of the weights
        self.sum = 0.0  # sum of value * weight
        self.min = float("inf")
        self.max = float("-inf")
        self.counter = kind is MetricKind.COUNTER
        self._hist = EMPTY
        self._pending_keys: list[npt.NDArray[np.int32]] = []
        self._pending_counts: list[npt.NDArray[np.int64]] = []
        self._pending_size = 0

    def add(self, values: npt.NDArray[np.float64], weights: npt.NDArray[np.int64] | None = None) -> None:
        """Fold in a non-empty float64 array of values, each standing for ``weights`` observations
        (positive integers) or one."""
        if weights is None:
            self.count += len(values)
            self.sum += float(values.sum())
        else:
            self.count += int(weights.sum())
            self.sum += float(values @ weights.astype(np.float64))
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        if self.counter:
            return
        self._pending_keys.append(keys_of(values))
        self._pending_counts.append(np.ones(len(values), dtype=np.int64) if weights is None else weights)
        self._pending_size += len(values)
        if self._pending_size >= PENDING_KEYS:
            self._consolidate()

    def _consolidate(self) -> None:
        if not self._pending_keys:
            return
        keys = np.concatenate([self._hist.keys, *self._pending_keys])
        self._hist = from_keys(keys, np.concatenate([self._hist.counts, *self._pending_counts]))
        self._pending_keys.clear()
        self._pending_counts.clear()
        self._pending_size = 0

    def to_row(self, key: SeriesKey, window_start_ms: int, window_ms: int, late: bool) -> RollupRow:
        service, name, kind, labels = key
        self._consolidate()
        return RollupRow(
            service=service,
            name=name,
            kind=kind,
            labels=dict(labels),
            window_start_ms=window_start_ms,
            window_ms=window_ms,
            count=self.count,
            sum=self.sum,
            min=self.min,
            max=self.max,
            keys=self._hist.keys,
            counts=self._hist.counts,
            late=late,
        )
