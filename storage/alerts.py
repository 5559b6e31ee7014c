"""Alerting tables: the transition history (read), notification attempts (written by the notifier,
read per alert), the notifier's saved state (one JSON document per save, newest wins) and the
commands the API queues for the notifier (:class:`NotifierTables` is the notifier's store).

The rows of ``alert_history`` come from the sink (storage/sink.py); the notifier stage writes
attempts and its state; the API writes commands. Times are epoch milliseconds throughout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.notifier import AttemptRow, CommandKind, NotifierCommand
from storage.client import Store
from storage.keyset import older_than

__all__ = [
    "HistoryEntry",
    "HistoryKey",
    "HistoryPage",
    "HistoryQuery",
    "NotifierTables",
    "alert_history",
    "attempts_for",
    "commands_since",
    "insert_attempts",
    "load_notifier_state",
    "queue_command",
    "save_notifier_state",
]

HistoryKey = tuple[int, int, int, int]  # (at_ms, src_partition, tick_offset, seq): unique per transition


@dataclass(frozen=True)
class HistoryQuery:
    rule: str | None = None  # only this rule's transitions
    fingerprint: str | None = None  # only this alert's transitions
    states: Sequence[str] = ()  # only transitions into these states (empty: all)
    since_ms: int | None = None  # at >= since (inclusive), epoch ms
    until_ms: int | None = None  # at < until (exclusive), epoch ms
    limit: int = 100
    after: HistoryKey | None = None  # keyset: the key of the previous page's last entry


@dataclass(slots=True)
class HistoryEntry:
    at_ms: int  # evaluation time of the transition
    rule: str
    fingerprint: str
    labels: dict[str, str]
    group: dict[str, str]
    severity: str
    state: str  # the state entered
    previous: str  # the state left
    value: float | None  # the value compared with the threshold (None: no data)
    annotations: dict[str, str]
    active_at_ms: int | None
    fired_at_ms: int | None
    resolved_at_ms: int | None
    channels: list[str]
    key: HistoryKey

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at_ms,
            "rule": self.rule,
            "fingerprint": self.fingerprint,
            "state": self.state,
            "previous": self.previous,
            "value": self.value,
            "severity": self.severity,
            "labels": self.labels,
            "group": self.group,
            "annotations": self.annotations,
            "active_at": self.active_at_ms,
            "fired_at": self.fired_at_ms,
            "resolved_at": self.resolved_at_ms,
            "channels": self.channels,
        }


@dataclass(slots=True)
class HistoryPage:
    entries: list[HistoryEntry]  # newest first
    next_key: HistoryKey | None  # pass as HistoryQuery.after for the next page; None at the end


def _ms(column: str) -> str:
    return f"toUnixTimestamp64Milli({column})"


def alert_history(store: Store, query: HistoryQuery) -> HistoryPage:
    """One page of transitions matching ``query``, newest first; ties in time are ordered by the
    emission identity, so the keyset neither repeats nor skips a transition."""
    params: dict[str, Any] = {"limit": query.limit + 1}
    where = ["1"]
    if query.rule is not None:
        where.append("rule = {rule:String}")
        params["rule"] = query.rule
    if query.fingerprint is not None:
        where.append("fingerprint = {fingerprint:String}")
        params["fingerprint"] = query.fingerprint
    if query.states:
        where.append("state IN {states:Array(String)}")
        params["states"] = list(query.states)
    if query.since_ms is not None:
        where.append("at >= fromUnixTimestamp64Milli({since:Int64})")
        params["since"] = query.since_ms
    if query.until_ms is not None:
        where.append("at < fromUnixTimestamp64Milli({until:Int64})")
        params["until"] = query.until_ms
    if query.after is not None:
        where += older_than("at", "Milli", ("src_partition", "tick_offset", "seq"), query.after, params)
    rows = store.rows(
        f"""
        SELECT {_ms("at")}, rule, fingerprint, labels, group, severity, state, previous, value, annotations,
               {_ms("active_at")}, {_ms("fired_at")}, {_ms("resolved_at")}, channels, src_partition, tick_offset, seq
        FROM alert_history
        WHERE {" AND ".join(where)}
        ORDER BY at DESC, src_partition DESC, tick_offset DESC, seq DESC
        LIMIT {{limit:UInt32}}
        """,
        params,
    )
    entries = [
        HistoryEntry(
            int(r[0]),
            r[1],
            r[2],
            dict(r[3]),
            dict(r[4]),
            r[5],
            r[6],
            r[7],
            r[8],
            dict(r[9]),
            _opt(r[10]),
            _opt(r[11]),
            _opt(r[12]),
            list(r[13]),
            (int(r[0]), int(r[14]), int(r[15]), int(r[16])),
        )
        for r in rows[: query.limit]
    ]
    more = len(rows) > query.limit
    return HistoryPage(entries, entries[-1].key if more and entries else None)


def _opt(value: Any) -> int | None:
    return None if value is None else int(value)


_ATTEMPT_COLUMNS = [
    "fingerprint", "rule", "channel", "notification_id", "group_key", "target", "number", "at", "duration_ms",
    "outcome", "status_code", "error", "next_delay_ms", "dead_lettered",
]  # fmt: skip


def insert_attempts(store: Store, rows: Sequence[AttemptRow]) -> None:
    """Insert attempt rows in one statement (nothing for no rows)."""
    if not rows:
        return
    columns: list[list[Any]] = [[] for _ in _ATTEMPT_COLUMNS]
    for row in rows:
        values = (
            row.fingerprint, row.rule, row.channel, row.notification_id, row.group_key, row.target, row.number,
            row.at_ms, max(0, row.duration_ms), row.outcome, row.status_code, row.error, row.next_delay_ms,
            row.dead_lettered,
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    store.insert("notification_attempts", columns, _ATTEMPT_COLUMNS)


def attempts_for(store: Store, fingerprint: str, limit: int = 100) -> list[AttemptRow]:
    """The newest ``limit`` attempts that concerned the alert ``fingerprint``, newest first."""
    rows = store.rows(
        f"""
        SELECT fingerprint, rule, channel, notification_id, group_key, target, number, {_ms("at")}, duration_ms,
               outcome, status_code, error, next_delay_ms, dead_lettered
        FROM notification_attempts
        WHERE fingerprint = {{fingerprint:String}}
        ORDER BY at DESC, notification_id DESC, number DESC
        LIMIT {{limit:UInt32}}
        """,
        {"fingerprint": fingerprint, "limit": limit},
    )
    return [
        AttemptRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            int(r[6]),
            int(r[7]),
            int(r[8]),
            r[9],
            _opt(r[10]),
            r[11],
            _opt(r[12]),
            bool(r[13]),
        )
        for r in rows
    ]


def save_notifier_state(store: Store, name: str, version: int, state: str) -> None:
    """Store ``state`` (a JSON document) as version ``version`` of ``name``; higher versions win."""
    store.insert("notifier_state", [[name], [version], [state]], ["name", "version", "state"])


def load_notifier_state(store: Store, name: str) -> tuple[int, str] | None:
    """The newest saved ``(version, state)`` of ``name``, or None when it was never saved."""
    rows = store.rows(
        "SELECT version, state FROM notifier_state WHERE name = {name:String} ORDER BY version DESC LIMIT 1",
        {"name": name},
    )
    if not rows:
        return None
    return int(rows[0][0]), str(rows[0][1])


def queue_command(store: Store, kind: CommandKind, body: dict[str, Any]) -> NotifierCommand:
    """Queue a command for the notifier; its ``seq`` is unique across API processes (epoch
    microseconds in the high bits, 12 random bits below) and grows with time."""
    at_ms = time.time_ns() // 1_000_000
    seq = (time.time_ns() // 1_000) << 12 | int.from_bytes(os.urandom(2), "big") & 0xFFF
    store.insert("notifier_commands", [[seq], [kind.value], [orjson.dumps(body).decode()], [at_ms]],
                 ["seq", "kind", "body", "at"])  # fmt: skip
    return NotifierCommand(seq, kind, body, at_ms)


def commands_since(store: Store, at_ms: int) -> list[NotifierCommand]:
    """Commands queued at or after ``at_ms`` (epoch ms), in ``seq`` order."""
    rows = store.rows(
        f"""
        SELECT seq, kind, body, {_ms("at")} FROM notifier_commands
        WHERE at >= fromUnixTimestamp64Milli({{at:Int64}})
        ORDER BY seq
        """,
        {"at": at_ms},
    )
    return [NotifierCommand(int(r[0]), CommandKind(r[1]), orjson.loads(r[2]), int(r[3])) for r in rows]


class NotifierTables:
    """The notifier stage's store (alerting.notify.store.NotifierStore) over these tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load_state(self, name: str) -> tuple[int, str] | None:
        return load_notifier_state(self.store, name)

    def save_state(self, name: str, version: int, state: str) -> None:
        save_notifier_state(self.store, name, version, state)

    def insert_attempts(self, rows: Sequence[AttemptRow]) -> None:
        insert_attempts(self.store, rows)

    def commands_since(self, at_ms: int) -> list[NotifierCommand]:
        return commands_since(self.store, at_ms)
