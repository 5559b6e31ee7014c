"""The emitter's bounded buffer of spans or log records, and the fate of the records built from them.

A finished span (or a log record) is appended to a list under a lock; a drain moves the list out,
prepares it (redaction) and packs it into batches, one per Kafka record, numbered in drain order
(``seq``); the sender takes them and settles each one as acknowledged or lost. Accounting mirrors
:class:`~ingest.buffer.PointBuffer`, counted in items: at most ``capacity`` are held (open, built or
in flight); when full the oldest built batch not in flight is dropped to make room, else the new
item. Either way the caller never waits for Kafka.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Batch", "RecordBuffer"]

T = TypeVar("T")


class Batch(Generic[T]):
    """The items of one Kafka record awaiting acknowledgement; ``seq`` orders batches by drain."""

    __slots__ = ("items", "n", "seq")

    def __init__(self, seq: int, items: list[T]) -> None:
        self.seq = seq
        self.items = items
        self.n = len(items)


class RecordBuffer(Generic[T]):
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
        self.capacity = capacity
        self._fill_at = fill_at
        self._build = build
        self._on_fill = on_fill
        self._on_drop = on_drop
        self.lock = threading.Lock()
        self._settled = threading.Condition(self.lock)
        self._open: list[T] = []
        self._told = False  # on_fill was called for the open items
        self._pending: deque[Batch[T]] = deque()
        self._in_flight: dict[int, Batch[T]] = {}
        self._next_seq = 0
        self._lost: deque[int] = deque(maxlen=65_536)
        self.held = 0  # items open, built or in flight
        self.sent = 0
        self.dropped = 0
        self.unlogged_drops = 0
        self.closed = False

    def append(self, item: T) -> None:
        """Buffer one item, or drop it (counted) when full or closed."""
        wake = False
        with self.lock:
            if self.closed or (self.held >= self.capacity and not self._evict_oldest_locked()):
                self.dropped += 1
                self.unlogged_drops += 1
            else:
                self._open.append(item)
                self.held += 1
                if not self._told and len(self._open) >= self._fill_at:
                    self._told = wake = True
        if wake:
            self._on_fill()
        if self.unlogged_drops:
            self._on_drop()

    def take_unlogged_drops(self) -> int:
        with self.lock:
            n, self.unlogged_drops = self.unlogged_drops, 0
        return n

    def _evict_oldest_locked(self) -> bool:
        if not self._pending:
            return False
        oldest = self._pending.popleft()
        self.held -= oldest.n
        self.dropped += oldest.n
        self.unlogged_drops += oldest.n
        self._lost.append(oldest.seq)
        self._settled.notify_all()
        return True

    # ------------------------------------------------------------------ the sender's side

    def drain(self) -> tuple[int, int]:
        """Build batches of the open items; return how many were built and the seq after the last."""
        with self.lock:
            taken, self._open, self._told = self._open, [], False
        try:
            batches = self._build(taken) if taken else []
        except Exception:  # a bug in building: count the items as lost, never hold them forever
            with self.lock:
                self.held -= len(taken)
                self.dropped += len(taken)
                self.unlogged_drops += len(taken)
                self._settled.notify_all()
            raise
        with self.lock:
            for items in batches:
                self._pending.append(Batch(self._next_seq, items))
                self._next_seq += 1
            return len(batches), self._next_seq

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def take(self) -> Batch[T] | None:
        with self.lock:
            if not self._pending:
                return None
            item = self._pending.popleft()
            self._in_flight[item.seq] = item
            return item

    def requeue(self, failed: list[Batch[T]]) -> None:
        with self.lock:
            for item in sorted(failed, key=lambda b: b.seq, reverse=True):
                if self._in_flight.pop(item.seq, None) is not None:
                    self._pending.appendleft(item)

    def settle(self, item: Batch[T], acknowledged: bool) -> None:
        with self.lock:
            if self._in_flight.pop(item.seq, None) is not None:
                self.held -= item.n
                if acknowledged:
                    self.sent += item.n
                else:
                    self.dropped += item.n
                    self._lost.append(item.seq)
                self._settled.notify_all()

    # ------------------------------------------------------------------ flush and close (any thread)

    def unsettled_from(self) -> int:
        with self.lock:
            return self._unsettled_from_locked()

    def _unsettled_from_locked(self) -> int:
        lowest = self._pending[0].seq if self._pending else self._next_seq
        return min(lowest, *self._in_flight) if self._in_flight else lowest

    def wait_settled(self, upto: int, timeout: float) -> bool:
        with self.lock:
            return self._settled.wait_for(lambda: self._unsettled_from_locked() >= upto, timeout)

    def lost_between(self, first: int, upto: int) -> bool:
        with self.lock:
            return any(first <= seq < upto for seq in self._lost)

    def close(self) -> None:
        with self.lock:
            self.closed = True

    def discard(self) -> int:
        """Empty the buffer, counting every item still held as dropped; return how many."""
        with self.lock:
            unsent, self.held = self.held, 0
            self._open.clear()
            self._pending.clear()
            self._in_flight.clear()
            self.dropped += unsent
            self._settled.notify_all()
        return unsent
