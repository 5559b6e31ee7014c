"""Aggregation groups: group_wait, group_interval, repeat_interval and the notification log."""

from __future__ import annotations

import itertools
import json

from alerting.notify.channels import Channel
from alerting.notify.grouping import Grouper, LogEntry, needs_update
from alerting.notify.model import Notification
from alerting.rules.alert import Alert
from alerting.rules.state import State
from tests.alerting.notify.helpers import T0, channels, make_alert

CHANNEL: Channel = channels(
    'hook: {type: webhook, url: "http://127.0.0.1:1/h", group_by: [service],\n'
    "       group_wait: 1s, group_interval: 10s, repeat_interval: 1m}\n"
)["hook"]
ids = (f"n{i}" for i in itertools.count())


def look(grouper: Grouper, now: int, channel: Channel = CHANNEL) -> list[Notification]:
    """Flush every due group at ``now`` as the notifier would (delivery assumed)."""
    sent = []
    for group in grouper.due(now):
        notification, snapshot = grouper.prepare(group, channel, now, lambda a: False, lambda: next(ids))
        if notification is not None and notification.alerts:
            sent.append(notification)
        grouper.done(group, snapshot, notification, now)
    return sent


def names(notification: Notification) -> list[tuple[str, str]]:
    return [(a.rule, a.state.value) for a in notification.alerts]


def test_needs_update_is_alertmanagers_dedup_but_tells_alerts_resolved_before_they_were_told() -> None:
    a, b = frozenset({"a"}), frozenset({"b"})
    none: frozenset[str] = frozenset()
    entry = LogEntry(a, none, 1_000)

    def needs(
        entry: LogEntry | None,
        firing: frozenset[str],
        resolved: frozenset[str],
        *,
        send_resolved: bool = True,
        now: int = 2_000,
    ) -> bool:
        return needs_update(entry, firing, resolved, send_resolved=send_resolved, repeat_ms=60_000, now_ms=now)

    assert needs(None, a, none)
    assert needs(None, none, a) and not needs(None, none, a, send_resolved=False), "fired, resolved, never told"
    assert needs(entry, a | b, none), "a new firing alert"
    assert not needs(entry, a, none), "nothing new"
    assert needs(entry, none, a), "all resolved"
    assert needs(entry, none, a, send_resolved=False), "clears the log even without send_resolved"
    assert needs(LogEntry(none, none, 1_000), none, a), "resolved before anyone was told"
    assert not needs(LogEntry(none, none, 1_000), none, a, send_resolved=False)
    assert needs(LogEntry(a | b, none, 1_000), a, b), "one resolved"
    assert not needs(LogEntry(a | b, none, 1_000), a, b, send_resolved=False)
    assert needs(entry, a, none, now=61_000), "repeat interval passed"


def test_group_wait_batches_alerts_that_start_together() -> None:
    grouper = Grouper()
    grouper.insert(make_alert("a"), CHANNEL, T0)
    grouper.insert(make_alert("b"), CHANNEL, T0 + 500)
    assert look(grouper, T0 + 999) == [] and grouper.next_deadline() == T0 + 1_000
    (notification,) = look(grouper, T0 + 1_000)
    assert names(notification) == [("a", "firing"), ("b", "firing")]
    assert notification.group_key == 'hook:{service="gateway"}' and notification.group_labels == {"service": "gateway"}


def test_changes_wait_for_the_group_interval_and_unchanged_groups_repeat() -> None:
    grouper = Grouper()
    grouper.insert(make_alert("a"), CHANNEL, T0)
    look(grouper, T0 + 1_000)
    grouper.insert(make_alert("c"), CHANNEL, T0 + 2_000)
    assert look(grouper, T0 + 2_000) == [], "not before group_interval"
    (second,) = look(grouper, T0 + 11_000)
    assert names(second) == [("a", "firing"), ("c", "firing")]
    assert look(grouper, T0 + 21_000) == [] and look(grouper, T0 + 61_000) == []
    (repeat,) = look(grouper, T0 + 71_000)
    assert names(repeat) == names(second), "repeat_interval (1 min) after the last notification"


def test_resolution_is_told_once_then_the_group_is_gone() -> None:
    grouper = Grouper()
    firing = make_alert("a")
    grouper.insert(firing, CHANNEL, T0)
    look(grouper, T0 + 1_000)
    grouper.insert(make_alert("a", state=State.RESOLVED), CHANNEL, T0 + 5_000)
    (notification,) = look(grouper, T0 + 11_000)
    assert names(notification) == [("a", "resolved")]
    assert grouper.groups == {} and grouper.log == {}
    grouper.insert(make_alert("a", state=State.RESOLVED), CHANNEL, T0 + 12_000)
    assert grouper.groups == {}, "a resolved alert alone opens no group"


def test_an_alert_that_fires_and_resolves_between_looks_is_told_as_resolved() -> None:
    grouper = Grouper()
    grouper.insert(make_alert("a"), CHANNEL, T0)
    grouper.insert(make_alert("a", state=State.RESOLVED), CHANNEL, T0 + 500)
    (notification,) = look(grouper, T0 + 1_000)
    assert names(notification) == [("a", "resolved")], "Alertmanager would tell nothing"
    assert grouper.groups == {} and grouper.log == {}
    quiet = channels('hook: {type: webhook, url: "http://127.0.0.1:1/h", send_resolved: false}\n')["hook"]
    grouper.insert(make_alert("a"), quiet, T0)
    grouper.insert(make_alert("a", state=State.RESOLVED), quiet, T0 + 500)
    assert look(grouper, T0 + 1_000, quiet) == [] and grouper.groups == {}, "without send_resolved: nothing"


def test_without_send_resolved_the_resolution_is_not_sent_but_still_clears_the_log() -> None:
    quiet = channels('hook: {type: webhook, url: "http://127.0.0.1:1/h", send_resolved: false, group_wait: 0s}\n')[
        "hook"
    ]
    grouper = Grouper()
    grouper.insert(make_alert("a"), quiet, T0)
    (first,) = look(grouper, T0, quiet)
    grouper.insert(make_alert("a", state=State.RESOLVED), quiet, T0 + 1_000)
    assert look(grouper, T0 + 10_000, quiet) == [] and grouper.log == {}
    grouper.insert(make_alert("a"), quiet, T0 + 20_000)
    assert len(look(grouper, T0 + 20_000, quiet)) == 1, "fires again: told again"
    assert first.alerts[0].state is State.FIRING


def test_muted_alerts_are_left_out_and_become_news_when_unmuted() -> None:
    grouper = Grouper()
    grouper.insert(make_alert("a"), CHANNEL, T0)
    for group in grouper.due(T0 + 1_000):
        notification, snapshot = grouper.prepare(group, CHANNEL, T0 + 1_000, lambda a: True, lambda: "x")
        assert notification is None
        grouper.done(group, snapshot, notification, T0 + 1_000)
    (later,) = look(grouper, T0 + 11_000)
    assert names(later) == [("a", "firing")]


def test_snapshot_round_trip() -> None:
    grouper = Grouper()
    grouper.insert(make_alert("a"), CHANNEL, T0)
    look(grouper, T0 + 1_000)
    grouper.insert(make_alert("b"), CHANNEL, T0 + 2_000)
    restored = Grouper.restore(json.loads(json.dumps(grouper.snapshot())))
    assert restored.log == grouper.log and restored.next_deadline() == grouper.next_deadline()
    (notification,) = look(restored, T0 + 11_000)
    assert names(notification) == [("a", "firing"), ("b", "firing")]
    assert isinstance(notification.alerts[0], Alert)
