"""Replay filtering: identities at or below a partition's frontier are repeats; saved positions past a log's end."""

from __future__ import annotations

from schemas import ReplayFilter, past_end


def test_identities_at_or_below_the_frontier_are_not_admitted_per_partition() -> None:
    replays = ReplayFilter()
    assert replays.admit(0, (10, 0)) and replays.admit(0, (10, 1)) and replays.admit(0, (12, 0))
    assert not replays.admit(0, (12, 0))  # the same emission again
    assert not replays.admit(0, (10, 5))  # an earlier tick replayed
    assert replays.admit(1, (3, 0))  # another partition has its own frontier
    assert replays.export() == {0: (12, 0), 1: (3, 0)}


def test_the_frontier_is_restored_and_reset_per_partition() -> None:
    replays = ReplayFilter({0: (12, 0), 1: (3, 0)})
    assert not replays.admit(0, (11, 9))
    replays.reset(0, None)  # nothing taken any more: everything is new
    assert replays.admit(0, (1, 0))
    replays.reset(1, (7, 2))
    assert not replays.admit(1, (7, 2)) and replays.admit(1, (7, 3))
    assert ReplayFilter(replays.export()).export() == {0: (1, 0), 1: (7, 3)}


def test_a_position_past_the_end_of_its_log_is_found_with_that_end() -> None:
    positions = {"a": 10, "b": 10, "c": 11, "gone": 5}
    ends = {"a": 10, "b": 12, "c": 10}
    assert past_end(positions, ends) == {"c": 10}  # at the end is caught up, not past it
    assert past_end({}, ends) == {}
