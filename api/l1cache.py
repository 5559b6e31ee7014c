"""The L1 cache: answers in this process's memory, least recently used first out, bounded in bytes,
each with a time to live, indexed by metric so a stored window drops exactly the cells it touches.
Values are kept as they are (the query cache keeps decoded answers, so a hit costs no parsing);
``size_of`` tells the bytes each one counts."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from api.cachecell import Cell
from schemas.events import StoredWindow

__all__ = ["L1Cache"]

_ENTRY_OVERHEAD = 200  # bytes an entry costs besides its value (key, cell, index): counted against the bound

V = TypeVar("V")


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    cell: Cell
    expires: float  # time.monotonic() past which the entry is not answered
    size: int  # bytes counted for it


class L1Cache(Generic[V]):
    """At most ``max_bytes`` of entries (``size_of`` each value, plus a fixed overhead each)."""

    def __init__(self, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self.size_of = size_of
        self.bytes = 0  # counted bytes held now
        self.evictions = 0  # entries pushed out by the bound or expired
        self._entries: collections.OrderedDict[str, _Entry[V]] = collections.OrderedDict()
        self._by_metric: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            self._remove(key)
            self.evictions += 1
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: str, value: V, cell: Cell, ttl_s: float) -> None:
        """Keep ``value`` for ``ttl_s`` seconds; a value larger than the whole bound is not kept."""
        size = self.size_of(value) + _ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        if key in self._entries:
            self._remove(key)
        while self.bytes + size > self.max_bytes:
            self._remove(next(iter(self._entries)))
            self.evictions += 1
        self._entries[key] = _Entry(value, cell, time.monotonic() + ttl_s, size)
        self._by_metric.setdefault(cell.metric, set()).add(key)
        self.bytes += size

    def drop(self, windows: list[StoredWindow]) -> dict[str, tuple[V, Cell]]:
        """Drop every entry whose cell one of ``windows`` touches; returns them (key -> value, cell)."""
        dropped: dict[str, tuple[V, Cell]] = {}
        for window in windows:
            keys = self._by_metric.get(window.metric, set())
            for key in [k for k in keys if self._entries[k].cell.touched_by(window)]:
                entry = self._remove(key)
                dropped[key] = (entry.value, entry.cell)
        return dropped

    def discard(self, key: str) -> None:
        """Forget ``key``'s entry, if any."""
        if key in self._entries:
            self._remove(key)

    def clear(self) -> None:
        self._entries.clear()
        self._by_metric.clear()
        self.bytes = 0

    def _remove(self, key: str) -> _Entry[V]:
        entry = self._entries.pop(key)
        self.bytes -= entry.size
        keys = self._by_metric[entry.cell.metric]
        keys.discard(key)
        if not keys:
            del self._by_metric[entry.cell.metric]
        return entry
