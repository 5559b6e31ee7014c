"""The alert state machine, in Prometheus's shape (``rules/alerting.go``): a named enum of states and
one pure :func:`step` per evaluation of one alert (one rule, one group).

::

    inactive --breach--> pending --breached for `for`--> firing --no breach for `keep_firing_for`--> resolved
       ^                    |                              ^  |                                          |
       +------no breach-----+                              +--+ breach again (resets keep_firing_for)    |
    (with for = 0, inactive/resolved --breach--> firing directly)        resolved --breach--> pending ---+

Why ``for`` and ``keep_firing_for``: (1) ``for`` holds back an alert until the condition has held that
long, so a single bad window does not page anyone; (2) ``keep_firing_for`` holds back the resolution,
so a condition that flaps around its threshold yields one long alert instead of a fire/resolve storm.

Times are the evaluation times passed in (window close times), never the wall clock, so replaying
the same windows replays the same transitions; an evaluation at or before the last one is ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Protocol

from schemas.alerts import State  # the state names are part of the alerts topic's contract

__all__ = ["AlertState", "Hold", "State", "Transition", "step"]


class Hold(Protocol):
    """What :func:`step` needs of a rule."""

    @property
    def for_ms(self) -> int: ...

    @property
    def keep_firing_for_ms(self) -> int: ...


@dataclass(frozen=True, slots=True)
class AlertState:
    """The state of one alert after an evaluation; JSON-serializable (:meth:`to_dict`) to survive restarts."""

    state: State
    value: float  # last evaluated value; the last known one while kept firing without data (NaN: none)
    last_eval_ms: int  # evaluation time this state results from, epoch ms
    active_at_ms: int | None = None  # when the condition started holding (pending or firing since), epoch ms
    fired_at_ms: int | None = None  # when it became firing, epoch ms
    resolved_at_ms: int | None = None  # when it became resolved, epoch ms
    keep_firing_since_ms: int | None = None  # first evaluation without breach while kept firing, epoch ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "value": self.value if math.isfinite(self.value) else None,
            "last_eval_ms": self.last_eval_ms,
            "active_at_ms": self.active_at_ms,
            "fired_at_ms": self.fired_at_ms,
            "resolved_at_ms": self.resolved_at_ms,
            "keep_firing_since_ms": self.keep_firing_since_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` for a malformed record."""
        try:
            value = data.get("value")
            return cls(
                state=State(data["state"]),
                value=math.nan if value is None else float(value),
                last_eval_ms=int(data["last_eval_ms"]),
                active_at_ms=_opt_int(data.get("active_at_ms")),
                fired_at_ms=_opt_int(data.get("fired_at_ms")),
                resolved_at_ms=_opt_int(data.get("resolved_at_ms")),
                keep_firing_since_ms=_opt_int(data.get("keep_firing_since_ms")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"cannot read alert state {data!r}: {exc}") from None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of state at one evaluation."""

    previous: State
    current: State
    at_ms: int  # evaluation time, epoch ms
    value: float  # the value evaluated then (NaN: the group had no data)


def _changed(previous: AlertState | None, new: AlertState) -> tuple[AlertState, Transition | None]:
    before = previous.state if previous is not None else State.INACTIVE
    if before is new.state:
        return new, None
    return new, Transition(before, new.state, new.last_eval_ms, new.value)


def step(
    previous: AlertState | None, breached: bool, value: float, at_ms: int, rule: Hold
) -> tuple[AlertState, Transition | None]:
    """Advance one alert by one evaluation at ``at_ms``; pure.

    ``previous`` is None for an alert never seen (same as inactive). ``breached`` says whether the
    condition held at this evaluation and ``value`` is what was compared (NaN for no data, which
    never breaches). Returns the new state and the transition, or None when the state stays.
    """
    if previous is not None and at_ms <= previous.last_eval_ms:
        return previous, None  # a replayed or out-of-order evaluation changes nothing
    before = previous.state if previous is not None else State.INACTIVE
    known = value if not math.isnan(value) or previous is None else previous.value

    if breached:
        if before in (State.INACTIVE, State.RESOLVED) or previous is None:
            if rule.for_ms <= 0:
                return _changed(previous, AlertState(State.FIRING, value, at_ms, at_ms, at_ms))
            return _changed(previous, AlertState(State.PENDING, value, at_ms, at_ms))
        active_at = previous.active_at_ms if previous.active_at_ms is not None else at_ms
        if before is State.PENDING:
            if at_ms - active_at >= rule.for_ms:
                return _changed(
                    previous, replace(previous, state=State.FIRING, value=value, last_eval_ms=at_ms, fired_at_ms=at_ms)
                )
            return replace(previous, value=value, last_eval_ms=at_ms), None
        return replace(previous, value=value, last_eval_ms=at_ms, keep_firing_since_ms=None), None  # firing

    if previous is None or before is State.INACTIVE:
        return AlertState(State.INACTIVE, value, at_ms), None
    if before is State.RESOLVED:
        return replace(previous, last_eval_ms=at_ms), None
    if before is State.PENDING:
        return _changed(previous, AlertState(State.INACTIVE, value, at_ms))
    # firing, and the condition no longer holds
    if rule.keep_firing_for_ms > 0:
        since = previous.keep_firing_since_ms if previous.keep_firing_since_ms is not None else at_ms
        if at_ms - since < rule.keep_firing_for_ms:
            return replace(previous, value=known, last_eval_ms=at_ms, keep_firing_since_ms=since), None
    resolved = replace(
        previous, state=State.RESOLVED, value=known, last_eval_ms=at_ms, resolved_at_ms=at_ms, keep_firing_since_ms=None
    )
    return _changed(previous, resolved)
