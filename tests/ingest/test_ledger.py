"""Ledger: built records pending, in flight, acknowledged or lost, and the counts that follow."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.sdk.ledger import Ledger


@dataclass
class Rec:
    seq: int
    n: int


def ledger_with(*sizes: int) -> Ledger[Rec]:
    ledger: Ledger[Rec] = Ledger()
    ledger.held = sum(sizes)  # as a buffer's append would have counted them
    assert ledger._enqueue(sizes, Rec) == (len(sizes), len(sizes))
    return ledger


def test_records_are_taken_in_build_order_and_settled_as_sent_or_lost() -> None:
    ledger = ledger_with(3, 5, 7)
    first, second = ledger.take(), ledger.take()
    assert first is not None and second is not None and (first.seq, second.seq) == (0, 1)
    ledger.settle(first, acknowledged=True)
    ledger.settle(second, acknowledged=False)
    ledger.settle(second, acknowledged=True)  # settled twice: the second time changes nothing
    assert (ledger.held, ledger.sent, ledger.dropped) == (7, 3, 5)
    assert ledger.lost_between(1, 2) and not ledger.lost_between(0, 1)
    assert ledger.unsettled_from() == 2
    assert not ledger.wait_settled(3, timeout=0.01)


def test_requeued_records_go_back_in_front_oldest_first() -> None:
    ledger = ledger_with(1, 2, 3)
    taken = [ledger.take(), ledger.take()]
    ledger.requeue([r for r in reversed(taken) if r is not None])
    assert [r.seq for r in iter(ledger.take, None) if r is not None] == [0, 1, 2]


def test_eviction_drops_the_oldest_record_not_in_flight() -> None:
    ledger = ledger_with(4, 6)
    in_flight = ledger.take()
    with ledger.lock:
        assert ledger._evict_oldest_locked()
        assert not ledger._evict_oldest_locked(), "the record in flight is not evictable"
    assert (ledger.held, ledger.dropped, ledger.take_unlogged_drops(), ledger.take_unlogged_drops()) == (4, 6, 6, 0)
    assert ledger.lost_between(1, 2)
    assert in_flight is not None and ledger.unsettled_from() == 0


def test_discard_counts_everything_held_as_dropped_and_settles_all() -> None:
    ledger = ledger_with(2, 3)
    ledger.take()
    assert ledger.discard() == 5
    assert (ledger.held, ledger.dropped, ledger.has_pending) == (0, 5, False)
    assert ledger.wait_settled(2, timeout=0.01)
