"""The sink stores alert transitions of the ``alerts`` topic in ``alert_history``: once each across a
restart, re-emitted identities skipped, records of other types and unreadable ones passed over;
and the history and attempts queries of storage/alerts.py."""

from __future__ import annotations

import math

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerting.rules import Alert, AlertTransition, State, transition_record
from schemas import Topics
from schemas.alerts import StatesRecord, encode_states, encode_transition
from storage import Store
from storage.alerts import (
    AttemptRow,
    HistoryQuery,
    alert_history,
    attempts_for,
    insert_attempts,
    load_notifier_state,
    save_notifier_state,
)
from tests.storage.builders import BASE_MS
from tests.storage.test_sink import BusyStore, config, produce, run_sink_until

pytestmark = pytest.mark.integration


def alert(
    state: State, service: str = "gateway", value: float = 250.0, at_ms: int = BASE_MS, rule: str = "high_response_time"
) -> Alert:
    group = {"service": service}
    return Alert(
        rule=rule,
        labels={"alertname": rule, "severity": "warning", **group},
        group=group,
        annotations={"summary": f"p95 of {service} is {value:g} ms"},
        severity="warning",
        state=state,
        value=value,
        active_at_ms=BASE_MS - 10_000,
        fired_at_ms=BASE_MS if state in (State.FIRING, State.RESOLVED) else None,
        resolved_at_ms=at_ms if state is State.RESOLVED else None,
        channels=("ops-webhook",),
    )


def transition(partition: int, tick: int, seq: int, current: Alert, previous: State, at_ms: int = BASE_MS) -> bytes:
    """An alerts record as the stream stage writes it (schemas/alerts.py)."""
    return encode_transition(transition_record(AlertTransition(current, previous, at_ms), tick, seq, partition))


def states(partition: int, tick: int) -> bytes:
    """A snapshot, which belongs on ``alert-states``: on ``alerts`` it is no transition."""
    return encode_states(StatesRecord(partition, tick, BASE_MS, ()))


def history_count(store: Store) -> int:
    [(n,)] = store.rows("SELECT count() FROM alert_history")
    return int(n)


def identities(store: Store) -> list[tuple[int, int, int, int]]:
    rows = store.rows("SELECT src_partition, tick_offset, seq, kafka_offset FROM alert_history ORDER BY 1, 2, 3")
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in rows]


async def rewind(bootstrap: str, topic: str, group: str) -> None:
    """Commit offset 0 everywhere: as if the sink died after its inserts, before its commits."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(8)]
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
    finally:
        await consumer.stop()


async def test_transitions_are_stored_once_across_a_restart_and_replays_and_other_records_are_skipped(
    kafka_bootstrap: str, topics: Topics, store: Store, store_url: str
) -> None:
    firing = alert(State.FIRING)
    resolved_at = BASE_MS + 30_000
    resolved = alert(State.RESOLVED, value=math.nan, at_ms=resolved_at)
    a = topics.alerts
    await produce(
        kafka_bootstrap,
        [
            (a, 0, transition(0, 10, 0, firing, State.PENDING)),
            (a, 0, states(0, 10)),  # not a type the alerts topic carries: passed over
            (a, 0, b"{not an alert record"),  # unreadable: passed over
            (a, 0, transition(0, 10, 0, firing, State.PENDING)),  # re-emitted within the run
            (a, 0, transition(1, 11, 0, firing, State.PENDING)),  # names another source partition: refused
            (a, 0, transition(0, 12, 0, resolved, State.FIRING, resolved_at)),
            (a, 0, states(0, 12)),
            (a, 5, transition(5, 3, 0, alert(State.PENDING, "frontend"), State.INACTIVE)),
        ],
    )
    sink_config = config(kafka_bootstrap, topics)
    await run_sink_until(sink_config, store, lambda: history_count(store) >= 3)
    assert identities(store) == [(0, 10, 0, 0), (0, 12, 0, 5), (5, 3, 0, 0)]
    row = store.rows(
        "SELECT toUnixTimestamp64Milli(at), rule, fingerprint, labels, group, severity, state, previous, value,"
        " annotations, toUnixTimestamp64Milli(active_at), toUnixTimestamp64Milli(fired_at),"
        " toUnixTimestamp64Milli(resolved_at), channels FROM alert_history WHERE tick_offset = 12"
    )
    assert row == [
        (
            resolved_at,
            "high_response_time",
            resolved.fingerprint,
            dict(resolved.labels),
            {"service": "gateway"},
            "warning",
            "resolved",
            "firing",
            None,  # no data: NaN travels as null
            {"summary": "p95 of gateway is nan ms"},
            BASE_MS - 10_000,
            BASE_MS,
            resolved_at,
            ["ops-webhook"],
        )
    ]

    # As if the sink died after its insert and before its commit, while the stream stage restarted
    # and re-emitted what it emitted before; then new transitions.
    await rewind(kafka_bootstrap, topics.alerts, sink_config.group)
    await produce(
        kafka_bootstrap,
        [
            (a, 0, transition(0, 10, 0, firing, State.PENDING)),
            (a, 0, states(0, 10)),
            (a, 0, transition(0, 12, 0, resolved, State.FIRING, resolved_at)),
            (a, 0, transition(0, 14, 0, alert(State.FIRING, at_ms=BASE_MS + 50_000), State.PENDING, BASE_MS + 50_000)),
            (a, 5, transition(5, 3, 0, alert(State.PENDING, "frontend"), State.INACTIVE)),
            (a, 5, transition(5, 4, 0, alert(State.FIRING, "frontend"), State.PENDING, BASE_MS + 1_000)),
        ],
    )
    busy = BusyStore(store_url, delay_s=0.5)  # resume ends after the first fetch and the first flush
    try:
        await run_sink_until(sink_config, busy, lambda: history_count(store) >= 5, settle_s=3.0)
    finally:
        busy.close()
    assert identities(store) == [(0, 10, 0, 0), (0, 12, 0, 5), (0, 14, 0, 10), (5, 3, 0, 0), (5, 4, 0, 2)]


def insert_history(store: Store, rows: list[tuple[int, str, str, str, int]]) -> None:
    """Rows of (at_ms, rule, service, state, tick) through the sink's own column buffer."""
    from storage.rows import AlertHistoryColumns

    columns = AlertHistoryColumns()
    for at_ms, rule, service, state, tick in rows:
        current = alert(State(state), service, at_ms=at_ms, rule=rule)
        columns.add(tick, transition_record(AlertTransition(current, State.PENDING, at_ms), tick, 0))
    table, data, names = columns.take()
    store.insert(table, data, names)


def test_history_filters_and_pages_newest_first(store: Store) -> None:
    insert_history(
        store,
        [
            (BASE_MS + 1_000, "a", "gateway", "firing", 1),
            (BASE_MS + 2_000, "a", "gateway", "resolved", 2),
            (BASE_MS + 2_000, "b", "frontend", "firing", 3),  # same time: the identity orders them
            (BASE_MS + 3_000, "a", "frontend", "pending", 4),
        ],
    )
    page = alert_history(store, HistoryQuery(limit=3))
    assert [(e.at_ms, e.rule, e.state) for e in page.entries] == [
        (BASE_MS + 3_000, "a", "pending"),
        (BASE_MS + 2_000, "b", "firing"),
        (BASE_MS + 2_000, "a", "resolved"),
    ]
    assert page.next_key is not None
    rest = alert_history(store, HistoryQuery(limit=3, after=page.next_key))
    assert [(e.at_ms, e.state) for e in rest.entries] == [(BASE_MS + 1_000, "firing")] and rest.next_key is None
    by_rule = alert_history(store, HistoryQuery(rule="a", states=["firing", "resolved"]))
    assert [e.state for e in by_rule.entries] == ["resolved", "firing"]
    fingerprint = page.entries[1].fingerprint
    assert [e.rule for e in alert_history(store, HistoryQuery(fingerprint=fingerprint)).entries] == ["b"]
    window = alert_history(store, HistoryQuery(since_ms=BASE_MS + 2_000, until_ms=BASE_MS + 3_000))
    assert sorted(e.rule for e in window.entries) == ["a", "b"]


def test_attempts_per_alert_and_notifier_state_newest_wins(store: Store) -> None:
    def attempt(fingerprint: str, number: int, outcome: str, dead: bool = False) -> AttemptRow:
        return AttemptRow(
            fingerprint, "a", "hook", "n1", "hook:{}", "http://127.0.0.1:9/", number, BASE_MS + number, 12, outcome,
            503 if outcome != "delivered" else 200, "HTTP 503" if outcome != "delivered" else "", None, dead,
        )  # fmt: skip

    insert_attempts(store, [attempt("f1", 1, "retry"), attempt("f1", 2, "failed", True), attempt("f2", 1, "delivered")])
    found = attempts_for(store, "f1")
    assert [(a.number, a.outcome, a.dead_lettered, a.status_code) for a in found] == [
        (2, "failed", True, 503),
        (1, "retry", False, 503),
    ]
    assert found[0].to_dict()["error"] == "HTTP 503" and attempts_for(store, "f2")[0].to_dict()["error"] is None
    assert load_notifier_state(store, "g") is None
    save_notifier_state(store, "g", 1, '{"v": 1}')
    save_notifier_state(store, "g", 2, '{"v": 2}')
    save_notifier_state(store, "other", 7, "{}")
    assert load_notifier_state(store, "g") == (2, '{"v": 2}')
