"""Records of the alert topics: transitions on ``alerts``, state snapshots on ``alert-states``.

The stream stage evaluates alert rules when a tick closes windows, per source partition, so both
topics are laid out like ``rollups``: partition N carries what the stream stage decided from source
partition N (metrics partitions first, then spans partitions), in tick order.

- ``alerts`` carries :class:`TransitionRecord`, one per state change of one alert. Each carries the
  identity ``(src_partition, tick_offset, seq)`` of its emission: a worker that replays a partition
  after a restart re-emits the same identities, and consumers (the sink, the notifier) skip what is
  at or below the highest identity they have taken (:class:`schemas.replay.ReplayFilter`).
- ``alert-states`` (compacted, key: the source partition) carries :class:`StatesRecord`, the whole
  alert state of a source partition after a tick: what a worker restores when it takes the
  partition over, before replaying from its restart tick. Only the last one per partition matters.

The state names are defined here once (:class:`State`); alerting's state machine uses them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, NoReturn

import orjson

from schemas.wire import WireError

__all__ = [
    "State",
    "StateEntry",
    "StatesRecord",
    "TransitionRecord",
    "alert_key",
    "decode_states",
    "decode_transition",
    "encode_states",
    "encode_transition",
]

WIRE_VERSION = 1
TRANSITION_TYPE = "alert-transition"  # the JSON "type" of a transition (also its type header value)
STATES_TYPE = "alert-states"
_MAX_MS = 2**62  # epoch milliseconds and Kafka offsets fit in a signed 64-bit integer with room
_MAX_PARTITION = 2**16  # alert_history.src_partition is a UInt16


class State(StrEnum):
    """Where one alert (one rule, one group) stands after an evaluation."""

    INACTIVE = "inactive"  # the condition does not hold (or never held); nothing to tell anyone
    PENDING = "pending"  # the condition holds, but for less than the rule's `for` so far
    FIRING = "firing"  # the condition has held for `for`, or stopped less than `keep_firing_for` ago
    RESOLVED = "resolved"  # it was firing, and the condition no longer holds (keep_firing_for ran out)


_STATE_NAMES = frozenset(State)  # StrEnum members equal their names: "firing" in _STATE_NAMES


def alert_key(rule: str, group: Mapping[str, str]) -> str:
    """An alert's name: its rule and its group's labels (sorted), ``rule{k=v,...}``; the Kafka key of
    its transitions, so one alert's records stay ordered."""
    return f"{rule}{{{','.join(f'{k}={v}' for k, v in sorted(group.items()))}}}"


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """An alert changed from ``previous`` to ``state`` at ``at_ms``: one record of ``alerts``."""

    rule: str  # the rule's name (also labels["alertname"])
    labels: dict[str, str]  # the alert's identity: alertname, severity, group labels, rule labels
    group: dict[str, str]  # the group's labels alone (the rule's group_by values)
    annotations: dict[str, str]  # rendered at the transition
    severity: str  # critical | warning | info
    state: State  # the state entered
    previous: State  # the state left
    value: float | None  # the value compared with the threshold (None: the group had no data)
    at_ms: int  # evaluation time of the transition (a window end), epoch ms
    active_at_ms: int | None  # condition holding since, epoch ms
    fired_at_ms: int | None  # firing since, epoch ms
    resolved_at_ms: int | None  # resolved at, epoch ms
    channels: tuple[str, ...]  # the rule's notification channels
    fingerprint: str  # stable id of ``labels`` (16 hex digits)
    src_partition: int  # source partition whose windows were evaluated (= this record's partition)
    tick_offset: int  # offset of the tick that closed the windows
    seq: int  # order among the transitions of that tick

    @property
    def identity(self) -> tuple[int, int]:
        """Order of emission within the source partition (what replay filtering compares)."""
        return self.tick_offset, self.seq

    @property
    def key(self) -> bytes:
        return alert_key(self.rule, self.group).encode()


@dataclass(frozen=True, slots=True)
class StateEntry:
    """The state of one alert (one rule, one group) as the state machine left it."""

    rule: str
    group: dict[str, str]  # in the rule's group_by order (JSON keeps key order both ways)
    state: State
    value: float | None  # last evaluated value (None: none)
    last_eval_ms: int  # evaluation time this state results from, epoch ms
    active_at_ms: int | None  # condition holding since, epoch ms
    fired_at_ms: int | None  # firing since, epoch ms
    resolved_at_ms: int | None  # resolved at, epoch ms
    keep_firing_since_ms: int | None  # first evaluation without breach while kept firing, epoch ms


@dataclass(frozen=True, slots=True)
class StatesRecord:
    """The whole alert state of one source partition after a tick: one record of ``alert-states``."""

    src_partition: int  # the source partition (= this record's partition)
    tick_offset: int  # offset of the tick after which the state holds
    evaluated_to_ms: int | None  # end of the newest window evaluated (None: none yet)
    states: tuple[StateEntry, ...]

    @property
    def key(self) -> bytes:
        """Kafka key: the source partition, so compaction keeps the newest snapshot of each."""
        return str(self.src_partition).encode()


def encode_transition(record: TransitionRecord) -> bytes:
    """The value of one ``alerts`` record."""
    return _encode(TRANSITION_TYPE, record)


def decode_transition(data: bytes) -> TransitionRecord:
    """Decode and validate one ``alerts`` record; :class:`WireError` names the bad field and value."""
    r = _Reader.of(data, TRANSITION_TYPE, "alert transition")
    return TransitionRecord(
        rule=r.text("rule"),
        labels=r.labels("labels"),
        group=r.labels("group"),
        annotations=r.labels("annotations"),
        severity=r.text("severity"),
        state=r.state("state"),
        previous=r.state("previous"),
        value=r.number("value"),
        at_ms=r.whole("at_ms", _MAX_MS),
        active_at_ms=r.optional_ms("active_at_ms"),
        fired_at_ms=r.optional_ms("fired_at_ms"),
        resolved_at_ms=r.optional_ms("resolved_at_ms"),
        channels=r.names("channels"),
        fingerprint=r.text("fingerprint"),
        src_partition=r.whole("src_partition", _MAX_PARTITION),
        tick_offset=r.whole("tick_offset", _MAX_MS),
        seq=r.whole("seq", 2**32),
    )


def encode_states(record: StatesRecord) -> bytes:
    """The value of one ``alert-states`` record."""
    return _encode(STATES_TYPE, record)


def _encode(kind: str, record: TransitionRecord | StatesRecord) -> bytes:
    # "type" first: records read without a type header are named by it (schemas/records.py). orjson
    # writes the state enums as their names, tuples as lists and the nested entries as objects.
    return orjson.dumps({"type": kind, "v": WIRE_VERSION, **{f.name: getattr(record, f.name) for f in fields(record)}})


def decode_states(data: bytes) -> StatesRecord:
    """Decode and validate one ``alert-states`` record; :class:`WireError` names the bad field and value."""
    r = _Reader.of(data, STATES_TYPE, "alert states")
    entries = r.obj.get("states")
    if not isinstance(entries, list):
        raise WireError(f"cannot decode alert states: states must be a list, found {entries!r}")
    return StatesRecord(
        src_partition=r.whole("src_partition", _MAX_PARTITION),
        tick_offset=r.whole("tick_offset", _MAX_MS),
        evaluated_to_ms=r.optional_ms("evaluated_to_ms"),
        states=tuple(_state_entry(_Reader(e, f"alert states: states[{i}]")) for i, e in enumerate(entries)),
    )


def _state_entry(r: _Reader) -> StateEntry:
    return StateEntry(
        rule=r.text("rule"),
        group=r.labels("group"),
        state=r.state("state"),
        value=r.number("value"),
        last_eval_ms=r.whole("last_eval_ms", _MAX_MS),
        active_at_ms=r.optional_ms("active_at_ms"),
        fired_at_ms=r.optional_ms("fired_at_ms"),
        resolved_at_ms=r.optional_ms("resolved_at_ms"),
        keep_firing_since_ms=r.optional_ms("keep_firing_since_ms"),
    )


class _Reader:
    """Reads the fields of one JSON object, raising :class:`WireError` "cannot decode <what>: <field>
    must be ..., found <value>" for the first field that is missing or malformed."""

    def __init__(self, obj: object, what: str) -> None:
        if not isinstance(obj, dict):
            raise WireError(f"cannot decode {what}: expected a JSON object, found {obj!r}")
        self.obj: dict[str, Any] = obj
        self.what = what

    @classmethod
    def of(cls, data: bytes, kind: str, what: str) -> _Reader:
        """The reader of a whole record of JSON type ``kind`` and this version."""
        try:
            reader = cls(orjson.loads(data), what)
        except orjson.JSONDecodeError as exc:
            raise WireError(f"cannot decode {what}: invalid JSON ({exc})") from None
        if reader.obj.get("type") != kind:
            reader.fail("type", f"'{kind}'")
        if reader.obj.get("v") != WIRE_VERSION:
            reader.fail("v", f"version {WIRE_VERSION}")
        return reader

    def fail(self, name: str, expected: str) -> NoReturn:
        found = repr(self.obj[name]) if name in self.obj else "nothing"
        raise WireError(f"cannot decode {self.what}: {name} must be {expected}, found {found}")

    def text(self, name: str) -> str:
        value = self.obj.get(name)
        if not isinstance(value, str) or not value:
            self.fail(name, "a non-empty string")
        return str(value)

    def labels(self, name: str) -> dict[str, str]:
        value = self.obj.get(name)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.fail(name, "an object of strings")
        return dict(value)

    def names(self, name: str) -> tuple[str, ...]:
        value = self.obj.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, "a list of strings")
        return tuple(value)

    def state(self, name: str) -> State:
        value = self.obj.get(name)
        if not isinstance(value, str) or value not in _STATE_NAMES:
            self.fail(name, f"one of {', '.join(State)}")
        return State(value)

    def number(self, name: str) -> float | None:
        """A finite number, or None (JSON null; also a missing field, as no data)."""
        value = self.obj.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(name, "a finite number or null")
        return float(value)

    def whole(self, name: str, limit: int) -> int:
        value = self.obj.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
            self.fail(name, f"an integer in [0, {limit})")
        return int(value)

    def optional_ms(self, name: str) -> int | None:
        return None if self.obj.get(name) is None else self.whole(name, _MAX_MS)
