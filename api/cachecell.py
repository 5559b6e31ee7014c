"""What a cached answer covers: one metric, a service filter and a time range. A stored window
changes the answer of every cell it overlaps, and of no other (schemas/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import StoredWindow

__all__ = ["Cell"]


@dataclass(frozen=True, slots=True)
class Cell:
    """The windows an answer reads: those of ``metric`` starting in ``[start_ms, end_ms)``, of the
    ``services`` (empty: of every service)."""

    metric: str
    services: tuple[str, ...]
    start_ms: int
    end_ms: int

    def touched_by(self, window: StoredWindow) -> bool:
        """Whether rows stored for ``window`` change this cell's answer: the same metric, a service it
        reads, and the window's start inside the range (queries select windows by their start)."""
        return (
            window.metric == self.metric
            and (not self.services or window.service in self.services)
            and self.start_ms <= window.start_ms < self.end_ms
        )
