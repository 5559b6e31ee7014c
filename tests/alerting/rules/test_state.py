"""The state machine: every transition, for / keep_firing_for, flapping, persistence."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.rules.state import AlertState, State, Transition, step


@dataclass(frozen=True)
class Hold:
    for_ms: int = 0
    keep_firing_for_ms: int = 0


W = 10_000  # one window


def run(breaches: str, rule: Hold) -> list[tuple[State, Transition | None]]:
    """Evaluate 'x' (breached) / '.' (not) at 0, W, 2W, ..."""
    state: AlertState | None = None
    out = []
    for i, mark in enumerate(breaches):
        state, change = step(state, mark == "x", 250.0 if mark == "x" else 100.0, i * W, rule)
        out.append((state.state, change))
    return out


def states(breaches: str, rule: Hold) -> str:
    letter = {State.INACTIVE: "i", State.PENDING: "p", State.FIRING: "F", State.RESOLVED: "r"}
    return "".join(letter[s] for s, _ in run(breaches, rule))


def test_never_seen_and_not_breached_stays_inactive_without_transition() -> None:
    state, change = step(None, False, 1.0, 0, Hold())
    assert state.state is State.INACTIVE and change is None


def test_inactive_to_firing_at_once_without_for() -> None:
    state, change = step(None, True, 250.0, 5, Hold())
    assert state == AlertState(State.FIRING, 250.0, 5, active_at_ms=5, fired_at_ms=5)
    assert change == Transition(State.INACTIVE, State.FIRING, 5, 250.0)


def test_inactive_to_pending_with_for() -> None:
    state, change = step(None, True, 250.0, 5, Hold(for_ms=30_000))
    assert state == AlertState(State.PENDING, 250.0, 5, active_at_ms=5)
    assert change == Transition(State.INACTIVE, State.PENDING, 5, 250.0)


def test_pending_stays_pending_until_for_has_elapsed_then_fires() -> None:
    rule = Hold(for_ms=30_000)
    assert states("xxxxx", rule) == "pppFF"
    history = run("xxxx", rule)
    assert [c for _, c in history if c] == [
        Transition(State.INACTIVE, State.PENDING, 0, 250.0),
        Transition(State.PENDING, State.FIRING, 3 * W, 250.0),
    ]


def test_pending_to_inactive_when_the_condition_stops() -> None:
    history = run("xx.", Hold(for_ms=30_000))
    assert history[-1] == (State.INACTIVE, Transition(State.PENDING, State.INACTIVE, 2 * W, 100.0))


def test_firing_stays_firing_while_breached_and_resolves_after() -> None:
    history = run("xxx.", Hold())
    assert [s for s, _ in history] == [State.FIRING, State.FIRING, State.FIRING, State.RESOLVED]
    assert [c for _, c in history if c] == [
        Transition(State.INACTIVE, State.FIRING, 0, 250.0),
        Transition(State.FIRING, State.RESOLVED, 3 * W, 100.0),
    ]


def test_resolved_stays_resolved_then_refires_through_pending() -> None:
    assert states("x..", Hold()) == "Frr"
    assert states("xx..xx", Hold(for_ms=10_000)) == "pFrrpF"
    history = run("xx.x", Hold(for_ms=10_000))
    assert [c.previous for _, c in history if c][-1] is State.RESOLVED, "resolved -> pending is a transition"


def test_keep_firing_for_holds_the_resolution() -> None:
    rule = Hold(keep_firing_for_ms=30_000)
    assert states("x....", rule) == "FFFFr"  # resolves once 30 s passed since the first quiet window
    state = run("x..", rule)
    assert state[-1][1] is None


def test_breach_during_keep_firing_resets_the_countdown() -> None:
    rule = Hold(keep_firing_for_ms=20_000)
    assert states("x.x...", rule) == "FFFFFr"
    state: AlertState | None = None
    for i, mark in enumerate("x."):
        state, _ = step(state, mark == "x", 1.0, i * W, rule)
    assert state is not None and state.keep_firing_since_ms == W
    state, _ = step(state, True, 1.0, 2 * W, rule)
    assert state.keep_firing_since_ms is None


def test_flapping_is_held_back_by_for() -> None:
    assert "F" not in states("x.x.x.x.x.x.x.", Hold(for_ms=20_000))
    transitions = [c for _, c in run("x.x.x.x.", Hold(for_ms=20_000)) if c]
    assert all(c.current in (State.PENDING, State.INACTIVE) for c in transitions)


def test_flapping_is_held_back_by_keep_firing_for() -> None:
    without = [c for _, c in run("xx.x.x.x.x....", Hold()) if c]
    with_keep = [c for _, c in run("xx.x.x.x.x....", Hold(keep_firing_for_ms=20_000)) if c]
    assert len(without) == 10  # fire, resolve, fire, resolve...
    assert [(c.previous, c.current) for c in with_keep] == [
        (State.INACTIVE, State.FIRING),
        (State.FIRING, State.RESOLVED),
    ]


def test_no_data_keeps_the_last_known_value_while_kept_firing() -> None:
    rule = Hold(keep_firing_for_ms=30_000)
    state, _ = step(None, True, 250.0, 0, rule)
    state, change = step(state, False, math.nan, W, rule)
    assert state.state is State.FIRING and state.value == 250.0 and change is None


def test_replayed_or_older_evaluations_change_nothing() -> None:
    state, _ = step(None, True, 250.0, 2 * W, Hold())
    again, change = step(state, False, 1.0, 2 * W, Hold())
    older, change2 = step(state, False, 1.0, W, Hold())
    assert again is state and older is state and change is None and change2 is None


def test_state_round_trips_through_json_shapes() -> None:
    state = AlertState(State.FIRING, math.nan, 30, 10, 20, None, 25)
    data = state.to_dict()
    assert data["value"] is None
    restored = AlertState.from_dict(data)
    assert restored.state is State.FIRING and math.isnan(restored.value)
    assert (restored.active_at_ms, restored.fired_at_ms, restored.keep_firing_since_ms) == (10, 20, 25)
    with pytest.raises(ValueError, match="cannot read alert state"):
        AlertState.from_dict({"state": "exploded", "last_eval_ms": 1})


@given(
    breaches=st.lists(st.booleans(), max_size=40),
    for_windows=st.integers(0, 4),
    keep_windows=st.integers(0, 4),
)
def test_transitions_honour_for_and_keep_firing_for(breaches: list[bool], for_windows: int, keep_windows: int) -> None:
    """Firing needs for_windows+1 breached evaluations in a row (since the run began); resolving needs
    keep_windows+1 quiet ones after firing — Prometheus's semantics at a fixed evaluation interval."""
    rule = Hold(for_windows * W, keep_windows * W)
    state: AlertState | None = None
    for i, breached in enumerate(breaches):
        state, change = step(state, breached, 1.0, i * W, rule)
        if change is not None and change.current is State.FIRING:
            assert all(breaches[i - for_windows : i + 1]) and i >= for_windows
        if change is not None and change.current is State.RESOLVED:
            assert not any(breaches[i - keep_windows : i + 1])
        if state.state is State.PENDING:
            assert breached
