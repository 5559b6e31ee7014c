"""The emitter's bounded buffer of spans or log records, and the fate of the records built from them.

A finished span (or a log record) is appended to a list under a lock; a drain moves the list out,
prepares it (redaction) and packs it into batches, one per Kafka record; the sender takes them and
settles each one as acknowledged or lost. Accounting is the :class:`~ingest.sdk.ledger.Ledger`'s,
counted in items: at most ``capacity`` are held (open, built or in flight); when full the oldest
built batch not in flight is dropped to make room, else the new item. Either way the caller never
waits for Kafka.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from ingest.sdk.ledger import Ledger

__all__ = ["Batch", "RecordBuffer"]

T = TypeVar("T")


class Batch(Generic[T]):
    """The items of one Kafka record awaiting acknowledgement; ``seq`` orders batches by drain."""

    __slots__ = ("items", "n", "seq")

    def __init__(self, seq: int, items: list[T]) -> None:
        self.seq = seq
        self.items = items
        self.n = len(items)


class RecordBuffer(Ledger[Batch[T]]):
    """Holds at most ``capacity`` items until Kafka acknowledges them. Thread-safe.

    ``build`` turns drained items into batches (on the sender's thread, outside the lock).
    ``on_fill`` is called (outside the lock) once ``fill_at`` items are open: drain soon.
    ``on_drop`` is called after an append while ``unlogged_drops`` is not zero.
    """

    def __init__(
        self,
        capacity: int,
        *,
        fill_at: int,
        build: Callable[[list[T]], list[list[T]]],
        on_fill: Callable[[], None],
        on_drop: Callable[[], None],
    ) -> None:
        super().__init__()
        self.capacity = capacity
        self._fill_at = fill_at
        self._build = build
        self._on_fill = on_fill
        self._on_drop = on_drop
        self._open: list[T] = []
        self._told = False  # on_fill was called for the open items

    def append(self, item: T) -> None:
        """Buffer one item, or drop it (counted) when full or closed."""
        wake = False
        with self.lock:
            if self.closed or (self.held >= self.capacity and not self._evict_oldest_locked()):
                self._count_dropped_locked(1)
            else:
                self._open.append(item)
                self.held += 1
                if not self._told and len(self._open) >= self._fill_at:
                    self._told = wake = True
        if wake:
            self._on_fill()
        if self.unlogged_drops:
            self._on_drop()

    # ------------------------------------------------------------------ the sender's side

    def drain(self) -> tuple[int, int]:
        """Build batches of the open items; return how many were built and the seq after the last."""
        with self.lock:
            taken, self._open, self._told = self._open, [], False
        try:
            batches = self._build(taken) if taken else []
        except Exception:  # a bug in building: count the items as lost, never hold them forever
            with self.lock:
                self._released_locked(len(taken))
                self._count_dropped_locked(len(taken))
                self._settled.notify_all()
            raise
        return self._enqueue(batches, Batch)

    def _clear_open_locked(self) -> None:
        self._open.clear()
