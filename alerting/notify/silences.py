"""Silences, as Alertmanager has them: label matchers, a time range, a comment and a creator.

A silence mutes every alert whose labels satisfy all its matchers while ``starts_at <= now <
ends_at``. Muted alerts stay in the alert list (marked), they are only left out of notifications.
:class:`Silences` is the set the API edits (add, expire, list) and persists through
:meth:`Silences.snapshot`; matching is pure and time comes in as an argument.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from alerting.rules.matchers import LabelMatcher, MatchOp, format_matchers, parse_matchers
from alerting.rules.ruleset import Severity

__all__ = ["MAX_SILENCE_MS", "Silence", "SilenceError", "SilenceState", "Silences", "new_silence"]

EXPIRED_RETENTION_MS = 24 * 3_600_000  # expired silences stay listed this long, then are dropped
MAX_SILENCE_MS = 366 * 86_400_000  # longest a silence may last, and furthest ahead it may start

# What a matcher is tried on to tell whether it selects every alert. Every alert carries "alertname"
# (any rule name) and "severity" (one of three values: tried on all of them); another label may be
# missing (read as ""). A matcher true of all its label's tries is taken to select every alert:
# =~".+", !="", !~"x", =~"[^\n]*" alike (whether a regex matches every string is not decidable,
# so a sample of names as rules and services spell them stands in for "every value").
_TRIES = ("a", "Z", "0", "_", "high_latency", "api-gateway", "a b/c:d.e", "é✓", "x" * 300)
_ALWAYS_SET = {"alertname": _TRIES, "severity": tuple(s.value for s in Severity)}


class SilenceError(ValueError):
    """A silence that cannot be created or changed; the message says why."""


class SilenceState(StrEnum):
    PENDING = "pending"  # starts in the future
    ACTIVE = "active"  # mutes matching alerts now
    EXPIRED = "expired"  # ended (or was expired by hand)


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[LabelMatcher, ...]  # all must match an alert's labels
    starts_at_ms: int  # epoch ms, inclusive
    ends_at_ms: int  # epoch ms, exclusive
    comment: str
    creator: str
    created_at_ms: int  # epoch ms

    def state(self, now_ms: int) -> SilenceState:
        if now_ms < self.starts_at_ms:
            return SilenceState.PENDING
        if now_ms < self.ends_at_ms:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def mutes(self, labels: Mapping[str, str], now_ms: int) -> bool:
        return self.state(now_ms) is SilenceState.ACTIVE and all(m.matches(labels) for m in self.matchers)

    def to_dict(self, now_ms: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "matchers": [{"name": m.name, "op": m.op.value, "value": m.value} for m in self.matchers],
            "matchers_text": format_matchers(self.matchers),
            "starts_at_ms": self.starts_at_ms,
            "ends_at_ms": self.ends_at_ms,
            "comment": self.comment,
            "creator": self.creator,
            "created_at_ms": self.created_at_ms,
        }
        if now_ms is not None:
            out["state"] = self.state(now_ms).value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        """Inverse of :meth:`to_dict`; raises :class:`SilenceError` for a malformed record."""
        try:
            matchers = tuple(LabelMatcher.of(m["name"], MatchOp(m["op"]), m["value"]) for m in data["matchers"])
            return cls(
                str(data["id"]),
                matchers,
                int(data["starts_at_ms"]),
                int(data["ends_at_ms"]),
                str(data["comment"]),
                str(data["creator"]),
                int(data["created_at_ms"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SilenceError(f"cannot read silence: {exc}") from None


def _new_id() -> str:
    return str(uuid.uuid4())


def new_silence(
    silence_id: str,
    matchers: str | Iterable[LabelMatcher],
    starts_at_ms: int,
    ends_at_ms: int,
    comment: str,
    creator: str,
    now_ms: int,
) -> Silence:
    """A valid silence, or :class:`SilenceError` saying why not.

    Rules: at least one matcher, and not only matchers that select every alert (``{}``,
    ``foo=~".*"``, ``alertname=~".+"``, ``severity!="none"``: see :func:`_selects_every_alert`);
    ``ends_at > starts_at``, not already past, at most :data:`MAX_SILENCE_MS` long and starting at
    most that far ahead; a non-empty comment and creator.
    """
    if isinstance(matchers, str):
        try:
            parsed = parse_matchers(matchers)
        except ValueError as exc:
            raise SilenceError(f"cannot read matchers {matchers!r}: {exc}") from None
    else:
        parsed = tuple(matchers)
    if not parsed:
        raise SilenceError("a silence needs at least one matcher")
    if all(m.matches({}) for m in parsed):
        raise SilenceError("at least one matcher must not match an empty label (this silence would mute everything)")
    if all(_selects_every_alert(m) for m in parsed):
        shown = format_matchers(parsed)[:200]
        raise SilenceError(f"{shown} matches every alert (this silence would mute everything): name a value")
    if ends_at_ms <= starts_at_ms:
        raise SilenceError("ends_at must be after starts_at")
    if ends_at_ms <= now_ms:
        raise SilenceError("ends_at is in the past")
    days = MAX_SILENCE_MS // 86_400_000
    if (length := ends_at_ms - max(starts_at_ms, now_ms)) > MAX_SILENCE_MS:
        raise SilenceError(f"a silence may last at most {days} days from now, this one {length} ms")
    if starts_at_ms - now_ms > MAX_SILENCE_MS:
        raise SilenceError(f"starts_at may be at most {days} days ahead, it is {starts_at_ms - now_ms} ms ahead")
    if not comment.strip() or not creator.strip():
        raise SilenceError("a silence needs a comment and a creator")
    return Silence(silence_id, parsed, starts_at_ms, ends_at_ms, comment.strip(), creator.strip(), now_ms)


def _selects_every_alert(matcher: LabelMatcher) -> bool:
    """Whether ``matcher`` is true of every value tried for its label (:data:`_TRIES`)."""
    tries = _ALWAYS_SET.get(matcher.name, ("", *_TRIES))
    return all(matcher.matches({matcher.name: value}) for value in tries)


class Silences:
    """The silences in force or recently expired. Not thread-safe: one owner (the notifier's loop)."""

    def __init__(self, silences: Iterable[Silence] = (), *, new_id: Callable[[], str] = _new_id) -> None:
        self._by_id: dict[str, Silence] = {s.id: s for s in silences}
        self._new_id = new_id

    def add(
        self,
        matchers: str | Iterable[LabelMatcher],
        *,
        starts_at_ms: int,
        ends_at_ms: int,
        comment: str,
        creator: str,
        now_ms: int,
    ) -> Silence:
        """Create a silence (rules of :func:`new_silence`); raises :class:`SilenceError` when invalid."""
        return self.put(new_silence(self._new_id(), matchers, starts_at_ms, ends_at_ms, comment, creator, now_ms))

    def put(self, silence: Silence) -> Silence:
        """Add ``silence`` as it is (made by :func:`new_silence`, e.g. in another process), or replace
        the one with its id."""
        self._by_id[silence.id] = silence
        return silence

    def expire(self, silence_id: str, now_ms: int) -> Silence:
        """End a silence now (a pending one ends before it starts); raises :class:`SilenceError` if unknown."""
        silence = self._by_id.get(silence_id)
        if silence is None:
            raise SilenceError(f"no silence {silence_id!r}")
        if silence.state(now_ms) is SilenceState.EXPIRED:
            return silence
        ended = replace(silence, ends_at_ms=now_ms, starts_at_ms=min(silence.starts_at_ms, now_ms))
        self._by_id[silence_id] = ended
        return ended

    def get(self, silence_id: str) -> Silence | None:
        return self._by_id.get(silence_id)

    def items(self, now_ms: int, state: SilenceState | None = None) -> list[Silence]:
        """Silences ordered by end time, optionally only those in ``state``."""
        found = [s for s in self._by_id.values() if state is None or s.state(now_ms) is state]
        return sorted(found, key=lambda s: (s.ends_at_ms, s.id))

    def silenced_by(self, labels: Mapping[str, str], now_ms: int) -> list[str]:
        """Ids of the active silences that mute ``labels``."""
        return sorted(s.id for s in self._by_id.values() if s.mutes(labels, now_ms))

    def gc(self, now_ms: int, retention_ms: int = EXPIRED_RETENTION_MS) -> int:
        """Drop silences expired more than ``retention_ms`` ago; returns how many."""
        old = [i for i, s in self._by_id.items() if s.ends_at_ms + retention_ms <= now_ms]
        for silence_id in old:
            del self._by_id[silence_id]
        return len(old)

    def snapshot(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._by_id.values()]

    @classmethod
    def restore(cls, data: Iterable[Mapping[str, Any]], *, new_id: Callable[[], str] = _new_id) -> Silences:
        return cls((Silence.from_dict(d) for d in data), new_id=new_id)
