"""Cumulative to delta: what the OTLP metrics receiver remembers to turn running totals into increments.

OTLP sums and histograms may be *cumulative* (each export carries the total since ``start_time``);
perfpulse counters and distributions take *increments*. For each series the receiver keeps the last
total it forwarded and sends the difference. The memory is per receiver process, bounded (least
recently seen series forgotten first), and kept only in memory, so:

1. A series seen for the first time forwards its whole total when it started after this receiver
   did (then all of it is new), and nothing otherwise: it becomes the baseline. After a receiver
   restart, or when a forgotten series comes back, the increase between the last export before and
   the first after is therefore lost — one delta per series, never a double count.
2. A total that went down, or a new ``start_time``, means the source restarted: its whole new total
   is the increment.
3. Updates are staged and committed only once Kafka acknowledged the request (:meth:`commit`), so an
   export answered 503 and retried computes the same increments again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["MAX_SERIES", "CumulativeDeltas", "ExpBuckets"]

MAX_SERIES: Final = 200_000  # series remembered; the least recently seen are forgotten first


@dataclass(slots=True)
class ExpBuckets:
    """The counts of an exponential histogram at one ``scale``: bucket index -> count."""

    scale: int
    zero_count: int
    positive: dict[int, int] = field(default_factory=dict)
    negative: dict[int, int] = field(default_factory=dict)

    def downscaled(self, scale: int) -> ExpBuckets:
        """The same counts at a coarser ``scale`` (<= this one): indexes shift right."""
        shift = self.scale - scale
        if shift <= 0:
            return self
        out = ExpBuckets(scale, self.zero_count)
        for source, target in ((self.positive, out.positive), (self.negative, out.negative)):
            for index, count in source.items():
                target[index >> shift] = target.get(index >> shift, 0) + count
        return out


@dataclass(slots=True)
class _Last:
    start_ns: int  # the series' start_time_unix_nano
    value: Any  # float (sums), tuple[int, ...] (bucket counts) or ExpBuckets


class CumulativeDeltas:
    """Last totals per series, to forward cumulative OTLP data as increments (see the module doc).

    Not thread-safe: the receiver uses it from one event loop, one request at a time under
    :attr:`lock` (the request's updates stay staged until :meth:`commit` or :meth:`discard`).
    """

    def __init__(self, max_series: int = MAX_SERIES, started_ns: int | None = None) -> None:
        self.max_series = max_series
        self.started_ns = time.time_ns() if started_ns is None else started_ns  # this receiver's start
        self._last: OrderedDict[Hashable, _Last] = OrderedDict()
        self._staged: dict[Hashable, _Last] = {}
        # Held from converting a request to committing it: two requests computing increments from
        # the same totals would count them twice.
        self.lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._last)

    def _previous(self, key: Hashable, start_ns: int) -> _Last | bool | None:
        """The last total of ``key``; True when the series is new and started after us (all new),
        False when new and older (baseline only), None after a restart of the source."""
        last = self._staged.get(key) or self._last.get(key)
        if last is None:
            return start_ns > 0 and start_ns >= self.started_ns
        if start_ns != last.start_ns and start_ns > 0:
            return None  # the source restarted
        return last

    def sum_delta(self, key: Hashable, start_ns: int, total: float) -> float | None:
        """The increment of a cumulative sum since the last export; None when it is only a baseline."""
        last = self._previous(key, start_ns)
        self._staged[key] = _Last(start_ns, total)
        if isinstance(last, bool):
            return total if last else None
        if last is None or total < last.value:
            return total
        return float(total - last.value)

    def counts_delta(self, key: Hashable, start_ns: int, counts: Sequence[int]) -> list[int] | None:
        """Per-bucket increments of a cumulative histogram (``key`` must include the bucket bounds);
        None when it is only a baseline."""
        current = tuple(counts)
        last = self._previous(key, start_ns)
        self._staged[key] = _Last(start_ns, current)
        if isinstance(last, bool):
            return list(current) if last else None
        if last is None or len(last.value) != len(current):
            return list(current)
        deltas = [c - p for c, p in zip(current, last.value, strict=True)]
        return list(current) if min(deltas, default=0) < 0 else deltas

    def exp_delta(self, key: Hashable, start_ns: int, current: ExpBuckets) -> ExpBuckets | None:
        """Per-bucket increments of a cumulative exponential histogram, at ``current``'s scale; None
        when it is only a baseline."""
        last = self._previous(key, start_ns)
        self._staged[key] = _Last(start_ns, current)
        if isinstance(last, bool):
            return current if last else None
        if last is None or last.value.scale < current.scale:  # a finer scale cannot come from a coarser one
            return current
        previous: ExpBuckets = last.value.downscaled(current.scale)
        delta = ExpBuckets(current.scale, current.zero_count - previous.zero_count)
        for now, before, into in (
            (current.positive, previous.positive, delta.positive),
            (current.negative, previous.negative, delta.negative),
        ):
            for index in now.keys() | before.keys():
                if (change := now.get(index, 0) - before.get(index, 0)) < 0:
                    return current  # a bucket went down: the source restarted
                if change:
                    into[index] = change
        return current if delta.zero_count < 0 else delta

    def commit(self) -> None:
        """Keep the staged totals: the increments computed from them were acknowledged by Kafka."""
        for key, last in self._staged.items():
            self._last[key] = last
            self._last.move_to_end(key)
        self._staged.clear()
        while len(self._last) > self.max_series:
            self._last.popitem(last=False)

    def discard(self) -> None:
        """Forget the staged totals: the request failed and will be retried with the same totals."""
        self._staged.clear()
