"""The fate of an emitter buffer's built records: pending, in flight, then acknowledged or lost.

Both of the emitter's buffers (points: :class:`~ingest.sdk.buffer.PointBuffer`; spans and log records:
:class:`~ingest.sdk.recordbuffer.RecordBuffer`) hold what they buffer until Kafka acknowledges it, and
count it in items (points, spans, log records):

- ``held``: buffered and not yet settled (open, built, or in flight); the buffer bounds it.
- ``sent``: acknowledged by Kafka. ``dropped``: lost (buffer full, record refused, or still unsent
  when the buffer was discarded); ``unlogged_drops`` is the part no one has reported yet.

Built records are numbered in build order (``seq``) so that a flush can wait for every record built
before it to settle, and learn whether one of them was lost.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

__all__ = ["Ledger", "Record"]


class Record(Protocol):
    seq: int  # build order
    n: int  # items it carries


R = TypeVar("R", bound=Record)
P = TypeVar("P")


class Ledger(Generic[R]):
    """Built records and the counts of a bounded buffer. Thread-safe: every method takes ``lock``,
    which subclasses share for their open items; ``*_locked`` methods expect it held."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._settled = threading.Condition(self.lock)  # notified when records leave the buffer
        self._pending: deque[R] = deque()  # built records, oldest first
        self._in_flight: dict[int, R] = {}
        self._next_seq = 0
        self._lost: deque[int] = deque(maxlen=65_536)  # seqs of records that left unacknowledged
        self.held = 0
        self.sent = 0
        self.dropped = 0
        self.unlogged_drops = 0
        self.closed = False  # new items are dropped

    # ------------------------------------------------------------------ hooks and helpers (lock held)

    def _released_locked(self, n: int) -> None:
        """``n`` held items left the buffer (settled or evicted). Subclasses keep their own
        thresholds in step."""
        self.held -= n

    def _count_dropped_locked(self, n: int) -> None:
        self.dropped += n
        self.unlogged_drops += n

    def _evict_oldest_locked(self) -> bool:
        """Drop the oldest built record not in flight to make room; False when there is none."""
        if not self._pending:
            return False
        oldest = self._pending.popleft()
        self._released_locked(oldest.n)
        self._count_dropped_locked(oldest.n)
        self._lost.append(oldest.seq)
        self._settled.notify_all()
        return True

    def _clear_open_locked(self) -> None:
        """Forget the open (not yet built) items; :meth:`discard` counts them as dropped."""

    # ------------------------------------------------------------------ the sender's side

    def _enqueue(self, parts: Iterable[P], make: Callable[[int, P], R]) -> tuple[int, int]:
        """Number the records built from ``parts`` and queue them; return how many were queued and
        the seq after the last."""
        with self.lock:
            count = 0
            for part in parts:
                self._pending.append(make(self._next_seq, part))
                self._next_seq += 1
                count += 1
            return count, self._next_seq

    @property
    def has_pending(self) -> bool:
        """Whether built records wait to be taken."""
        return bool(self._pending)

    def take(self) -> R | None:
        """The oldest built record, now in flight; None when there is none."""
        with self.lock:
            if not self._pending:
                return None
            item = self._pending.popleft()
            self._in_flight[item.seq] = item
            return item

    def requeue(self, failed: list[R]) -> None:
        """Put records back in front, oldest first; they stay buffered (and evictable)."""
        with self.lock:
            for item in sorted(failed, key=lambda r: r.seq, reverse=True):
                if self._in_flight.pop(item.seq, None) is not None:
                    self._pending.appendleft(item)

    def settle(self, item: R, acknowledged: bool) -> None:
        """Release a record in flight: its items count as sent, or else as dropped."""
        with self.lock:
            if self._in_flight.pop(item.seq, None) is not None:
                self._released_locked(item.n)
                if acknowledged:
                    self.sent += item.n
                else:
                    self.dropped += item.n
                    self._lost.append(item.seq)
                self._settled.notify_all()

    def take_unlogged_drops(self) -> int:
        """The drops not reported yet, now counted as reported."""
        with self.lock:
            n, self.unlogged_drops = self.unlogged_drops, 0
        return n

    # ------------------------------------------------------------------ flush and close (any thread)

    def unsettled_from(self) -> int:
        """The seq of the oldest record not yet settled (or of the next one to be built)."""
        with self.lock:
            return self._unsettled_from_locked()

    def _unsettled_from_locked(self) -> int:
        lowest = self._pending[0].seq if self._pending else self._next_seq
        return min(lowest, *self._in_flight) if self._in_flight else lowest

    def wait_settled(self, upto: int, timeout: float) -> bool:
        """Whether every record before seq ``upto`` is settled, waiting at most ``timeout`` seconds."""
        with self.lock:
            return self._settled.wait_for(lambda: self._unsettled_from_locked() >= upto, timeout)

    def lost_between(self, first: int, upto: int) -> bool:
        """Whether a record with ``first <= seq < upto`` was settled as lost."""
        with self.lock:
            return any(first <= seq < upto for seq in self._lost)

    def close(self) -> None:
        """Accept no more items: from now on every new one is dropped."""
        with self.lock:
            self.closed = True

    def discard(self) -> int:
        """Empty the buffer, counting every item still held as dropped; return how many."""
        with self.lock:
            unsent, self.held = self.held, 0
            self._clear_open_locked()
            self._pending.clear()
            self._in_flight.clear()
            self.dropped += unsent
            self._settled.notify_all()
        return unsent
