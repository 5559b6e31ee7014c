from __future__ import annotations

import itertools

import pytest

from alerting.notify.silences import MAX_SILENCE_MS, SilenceError, Silences, SilenceState
from alerting.rules.matchers import LabelMatcher

T = 1_000_000
GATEWAY = {"alertname": "high_response_time", "severity": "warning", "service": "gateway"}
FRONTEND = {**GATEWAY, "service": "frontend"}


def silences() -> Silences:
    counter = itertools.count(1)
    return Silences(new_id=lambda: f"s{next(counter)}")


def test_a_silence_mutes_matching_alerts_while_active() -> None:
    store = silences()
    silence = store.add(
        'service="gateway", alertname=~"high_.*"',
        starts_at_ms=T,
        ends_at_ms=T + 60_000,
        comment="deploy",
        creator="ana",
        now_ms=T - 5,
    )
    assert (silence.id, silence.comment, silence.creator, silence.created_at_ms) == ("s1", "deploy", "ana", T - 5)
    assert silence.state(T - 1) is SilenceState.PENDING and not silence.mutes(GATEWAY, T - 1)
    assert silence.mutes(GATEWAY, T) and not silence.mutes(FRONTEND, T)
    assert store.silenced_by(GATEWAY, T + 59_999) == ["s1"]
    assert store.silenced_by(GATEWAY, T + 60_000) == [] and silence.state(T + 60_000) is SilenceState.EXPIRED


def test_negative_and_regex_matchers() -> None:
    store = silences()
    matchers = [
        LabelMatcher.of("alertname", "=~", "high_.*"),
        LabelMatcher.of("service", "!=", "gateway"),
        LabelMatcher.of("severity", "!~", "crit.*"),
    ]
    store.add(matchers, starts_at_ms=T, ends_at_ms=T + 1, comment="c", creator="c", now_ms=T)
    assert store.silenced_by(FRONTEND, T) == ["s1"] and store.silenced_by(GATEWAY, T) == []


def test_expire_list_gc_and_round_trip() -> None:
    store = silences()
    a = store.add('service="gateway"', starts_at_ms=T, ends_at_ms=T + 100, comment="c", creator="c", now_ms=T)
    store.add('service="frontend"', starts_at_ms=T + 50, ends_at_ms=T + 100, comment="c", creator="c", now_ms=T)
    assert [s.id for s in store.items(T, SilenceState.ACTIVE)] == ["s1"] and [
        s.id for s in store.items(T, SilenceState.PENDING)
    ] == ["s2"]
    expired = store.expire(a.id, T + 10)
    assert expired.ends_at_ms == T + 10 and not store.silenced_by(GATEWAY, T + 10)
    restored = Silences.restore(store.snapshot())
    assert [s.to_dict(T) for s in restored.items(T)] == [s.to_dict(T) for s in store.items(T)]
    assert store.gc(T + 10 + 86_400_000) == 1 and [s.id for s in store.items(T)] == ["s2"]
    with pytest.raises(SilenceError, match="no silence 'nope'"):
        store.expire("nope", T)


@pytest.mark.parametrize(
    ("matchers", "start", "end", "comment", "reason"),
    [
        ("", T, T + 1, "c", "at least one matcher"),
        ('service=~".*"', T, T + 1, "c", "must not match an empty label"),
        ('service="gateway"', T, T, "c", "ends_at must be after starts_at"),
        ('service="gateway"', T - 10, T - 1, "c", "ends_at is in the past"),
        ('service="gateway"', T, T + 1, " ", "needs a comment and a creator"),
        ("service=gateway", T, T + 1, "c", "cannot read matchers"),
        ('alertname=~".+"', T, T + 1, "c", "matches every alert"),
        ('alertname!=""', T, T + 1, "c", "matches every alert"),
        ('severity=~"critical|warning|info"', T, T + 1, "c", "matches every alert"),
        ('severity!="none", service=~".*"', T, T + 1, "c", "mute everything"),
        ('service="gateway"', T, T + MAX_SILENCE_MS + 1, "c", "at most 366 days"),
        ('service="gateway"', T + MAX_SILENCE_MS + 1, T + MAX_SILENCE_MS + 2, "c", "at most 366 days ahead"),
        ('service=~"(a)\\\\1"', T, T + 1, "c", "invalid regular expression"),
    ],
)
def test_invalid_silences_are_refused(matchers: str, start: int, end: int, comment: str, reason: str) -> None:
    with pytest.raises(SilenceError, match=reason):
        silences().add(matchers, starts_at_ms=start, ends_at_ms=end, comment=comment, creator="c", now_ms=T)


@pytest.mark.parametrize(
    "matchers", ['alertname=~"high_.*"', 'service=~".+"', 'severity="critical"', 'alertname!~"x|y", service="gateway"']
)
def test_silences_that_select_some_alerts_are_taken(matchers: str) -> None:
    added = silences().add(matchers, starts_at_ms=T, ends_at_ms=T + MAX_SILENCE_MS, comment="c", creator="c", now_ms=T)
    assert added.state(T).value == "active"
