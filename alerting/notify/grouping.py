"""Aggregation groups and the notification log, with Alertmanager's timing semantics.

Alerts sent to a channel are grouped by the channel's ``group_by`` labels; each group is notified
as one message:

- ``group_wait``: after a group's first alert, wait this long before the first notification, so
  alerts that start together arrive together.
- ``group_interval``: afterwards, look at the group this often, and notify when it changed: an alert
  started firing that the receiver was not told about, or (with ``send_resolved``) one resolved,
  including one that fired and resolved between two looks (Alertmanager tells nothing of those).
- ``repeat_interval``: notify an unchanged, still-firing group again after this long.

Which alerts were last notified is the notification log (Alertmanager's nflog), kept per group here
and persisted with :meth:`Grouper.snapshot`, so a restarted notifier does not repeat itself.
Everything is pure: time is passed in, and the caller sends what :meth:`Grouper.prepare` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerting.notify.channels import Channel
from alerting.notify.model import Notification
from alerting.rules.alert import Alert
from alerting.rules.state import State

__all__ = ["AggregationGroup", "Grouper", "LogEntry", "needs_update"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """What a group's receiver was last told (or, after muting, deliberately not told)."""

    firing: frozenset[str]  # fingerprints notified as firing
    resolved: frozenset[str]  # fingerprints notified as resolved
    at_ms: int  # when, epoch ms


@dataclass(slots=True)
class AggregationGroup:
    channel: str
    key: str  # channel + group labels, stable
    labels: dict[str, str]  # the channel's group_by labels and their values
    next_flush_ms: int  # when the group is due for a look, epoch ms
    alerts: dict[str, Alert] = field(default_factory=dict)  # fingerprint -> latest firing or resolved alert


def needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_ms: int,
    now_ms: int,
) -> bool:
    """Alertmanager's dedup decision (``notify.DedupStage.needsUpdate``), but for one case: with
    ``send_resolved``, an alert that fired and resolved before the receiver was told is news.
    Alertmanager drops it, so a breach shorter than ``group_wait``, or a firing transition that
    reached the notifier late with its resolution right behind it, was never told. A rule's ``for``
    is what keeps short blips out."""
    if entry is None:
        return bool(firing) or (send_resolved and bool(resolved))
    if not firing <= entry.firing:
        return True  # something fires that the receiver has not heard of
    if send_resolved and not resolved <= entry.resolved:
        return True
    if not firing:
        return bool(entry.firing)  # all resolved: clear the receiver's firing set (even without send_resolved)
    return entry.at_ms <= now_ms - repeat_ms


def _group_key(channel: str, labels: Mapping[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{channel}:{{{inner}}}"


class Grouper:
    """The aggregation groups of every channel and their notification log."""

    def __init__(self) -> None:
        self.groups: dict[str, AggregationGroup] = {}
        self.log: dict[str, LogEntry] = {}

    def insert(self, alert: Alert, channel: Channel, now_ms: int) -> None:
        """Put the latest version of a firing or resolved alert into its group of ``channel``."""
        if alert.state not in (State.FIRING, State.RESOLVED):
            return
        labels = {name: alert.labels.get(name, "") for name in channel.group_by}
        key = _group_key(channel.name, labels)
        group = self.groups.get(key)
        if group is None:
            if alert.state is State.RESOLVED:
                return  # the receiver cannot have heard of it: there is no group (and no log entry to clear)
            group = AggregationGroup(channel.name, key, labels, now_ms + channel.timing.group_wait_ms)
            self.groups[key] = group
        group.alerts[alert.fingerprint] = alert

    def next_deadline(self) -> int | None:
        """The earliest time a group is due, epoch ms; None when there are no groups."""
        return min((g.next_flush_ms for g in self.groups.values()), default=None)

    def due(self, now_ms: int) -> list[AggregationGroup]:
        return sorted((g for g in self.groups.values() if g.next_flush_ms <= now_ms), key=lambda g: g.next_flush_ms)

    def drop_channel(self, channel: str) -> None:
        for key in [k for k, g in self.groups.items() if g.channel == channel]:
            del self.groups[key]
            self.log.pop(key, None)

    def prepare(
        self,
        group: AggregationGroup,
        channel: Channel,
        now_ms: int,
        muted: Callable[[Alert], bool],
        new_id: Callable[[], str],
    ) -> tuple[Notification | None, tuple[Alert, ...]]:
        """Look at a due group: the notification to send (None when nothing needs saying) and the
        snapshot of alerts looked at, to pass to :meth:`done` once sent.

        Muted (silenced or inhibited) alerts are left out before deciding, so a silence that ends
        makes its alerts news again.
        """
        group.next_flush_ms = now_ms + channel.timing.group_interval_ms
        snapshot = tuple(group.alerts.values())
        visible = [a for a in snapshot if not muted(a)]
        firing = frozenset(a.fingerprint for a in visible if a.state is State.FIRING)
        resolved = frozenset(a.fingerprint for a in visible if a.state is State.RESOLVED)
        entry = self.log.get(group.key)
        if not needs_update(
            entry,
            firing,
            resolved,
            send_resolved=channel.send_resolved,
            repeat_ms=channel.timing.repeat_interval_ms,
            now_ms=now_ms,
        ):
            return None, snapshot
        chosen = [a for a in visible if a.state is State.FIRING]
        if channel.send_resolved:
            chosen += [a for a in visible if a.state is State.RESOLVED]
        chosen.sort(key=lambda a: (a.state is not State.FIRING, a.rule, sorted(a.labels.items())))
        notification = Notification(new_id(), channel.name, group.key, dict(group.labels), tuple(chosen), now_ms)
        return notification, snapshot

    def done(
        self, group: AggregationGroup, snapshot: tuple[Alert, ...], notification: Notification | None, now_ms: int
    ) -> None:
        """After a look (and its send, if any): log what was notified, drop resolved alerts that were
        part of the snapshot (unless they changed since), and drop the group once empty."""
        if notification is not None:
            firing = frozenset(a.fingerprint for a in notification.alerts if a.state is State.FIRING)
            resolved = frozenset(a.fingerprint for a in notification.alerts if a.state is State.RESOLVED)
            self.log[group.key] = LogEntry(firing, resolved, now_ms)
        for alert in snapshot:
            if alert.state is State.RESOLVED and group.alerts.get(alert.fingerprint) is alert:
                del group.alerts[alert.fingerprint]
        if not group.alerts and self.groups.get(group.key) is group:
            del self.groups[group.key]
            entry = self.log.get(group.key)
            if entry is not None and not entry.firing:
                del self.log[group.key]

    # -- persistence ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "groups": [
                {
                    "channel": g.channel,
                    "key": g.key,
                    "labels": g.labels,
                    "next_flush_ms": g.next_flush_ms,
                    "alerts": [a.to_dict() for a in g.alerts.values()],
                }
                for g in self.groups.values()
            ],
            "log": {
                k: {"firing": sorted(e.firing), "resolved": sorted(e.resolved), "at_ms": e.at_ms}
                for k, e in self.log.items()
            },
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> Grouper:
        """Inverse of :meth:`snapshot`; raises ``ValueError`` for a malformed one."""
        grouper = cls()
        try:
            for g in data.get("groups", []):
                alerts = [Alert.from_dict(a) for a in g["alerts"]]
                group = AggregationGroup(g["channel"], g["key"], dict(g["labels"]), int(g["next_flush_ms"]))
                group.alerts = {a.fingerprint: a for a in alerts}
                grouper.groups[group.key] = group
            for key, e in data.get("log", {}).items():
                grouper.log[key] = LogEntry(frozenset(e["firing"]), frozenset(e["resolved"]), int(e["at_ms"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"cannot restore notification groups: {exc}") from None
        return grouper
