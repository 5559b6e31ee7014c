"""``/api/v1/alerts`` through the real app: the active alerts (none yet), the history from
ClickHouse with filters and paging, attempts per alert, dead letters, and bad parameters."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from alerting.rules import Alert, AlertTransition, State, transition_record
from schemas.notifier import AttemptRow
from storage.alerts import insert_attempts
from storage.rows import AlertHistoryColumns
from tests.api.apps import app_store, assert_error_shape

pytestmark = pytest.mark.integration

NOW = time.time_ns() // 1_000_000 - 60_000


def alert(rule: str, service: str, state: State, at_ms: int) -> Alert:
    group = {"service": service}
    return Alert(
        rule=rule,
        labels={"alertname": rule, "severity": "warning", **group},
        group=group,
        annotations={"summary": f"{rule} on {service}"},
        severity="warning",
        state=state,
        value=250.0,
        active_at_ms=at_ms - 1_000,
        fired_at_ms=at_ms if state is not State.PENDING else None,
        resolved_at_ms=at_ms if state is State.RESOLVED else None,
        channels=("ops-webhook",),
    )


@pytest.fixture(scope="module")
def stored(client: TestClient) -> list[Alert]:
    """Transitions stored as the sink stores them (partition 6 of the alerts topic, ticks 1..4)."""
    columns = AlertHistoryColumns()
    alerts = [
        alert("high_response_time", "gateway", State.PENDING, NOW),
        alert("high_response_time", "gateway", State.FIRING, NOW + 1_000),
        alert("high_error_rate", "frontend", State.FIRING, NOW + 2_000),
        alert("high_response_time", "gateway", State.RESOLVED, NOW + 3_000),
    ]
    previous = {State.PENDING: State.INACTIVE, State.FIRING: State.PENDING, State.RESOLVED: State.FIRING}
    for tick, a in enumerate(alerts, start=1):
        at = NOW + (tick - 1) * 1_000
        columns.add(100 + tick, transition_record(AlertTransition(a, previous[a.state], at), tick, 0, 6))
    table, data, names = columns.take()
    app_store(client).insert(table, data, names)
    return alerts


def test_no_active_alerts_without_transitions(client: TestClient) -> None:
    assert client.get("/api/v1/alerts").json() == {"alerts": []}
    assert client.get("/api/v1/alerts", params={"state": "firing", "rule": "x"}).json() == {"alerts": []}
    assert client.get("/api/v1/alerts/deadletters").json() == {"dead_letters": []}
    response = client.get("/api/v1/alerts", params={"state": "burning"})
    assert response.status_code == 400
    assert_error_shape(response.json(), "query.state")


def test_history_newest_first_with_filters_and_cursor(client: TestClient, stored: list[Alert]) -> None:
    body = client.get("/api/v1/alerts/history", params={"since": NOW}).json()
    assert [(h["rule"], h["state"]) for h in body["history"]] == [
        ("high_response_time", "resolved"),
        ("high_error_rate", "firing"),
        ("high_response_time", "firing"),
        ("high_response_time", "pending"),
    ]
    newest = body["history"][0]
    assert newest["at"] == NOW + 3_000 and newest["previous"] == "firing" and newest["value"] == 250.0
    assert newest["labels"]["service"] == "gateway" and newest["channels"] == ["ops-webhook"]
    assert newest["fingerprint"] == stored[0].fingerprint and newest["resolved_at"] == NOW + 3_000

    first = client.get("/api/v1/alerts/history", params={"since": NOW, "limit": 3}).json()
    assert len(first["history"]) == 3 and first["next_cursor"]
    rest = client.get("/api/v1/alerts/history", params={"since": NOW, "limit": 3, "cursor": first["next_cursor"]})
    assert [h["state"] for h in rest.json()["history"]] == ["pending"] and rest.json()["next_cursor"] is None

    by_rule = client.get("/api/v1/alerts/history", params={"rule": "high_error_rate"}).json()["history"]
    assert [h["labels"]["service"] for h in by_rule] == ["frontend"]
    by_state = client.get(
        "/api/v1/alerts/history", params={"fingerprint": stored[0].fingerprint, "state": "firing,resolved"}
    ).json()["history"]
    assert [h["state"] for h in by_state] == ["resolved", "firing"]
    window = client.get("/api/v1/alerts/history", params={"since": NOW + 1_000, "until": NOW + 3_000}).json()
    assert len(window["history"]) == 2


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"state": "asleep"}, "query.state"),
        ({"since": "yesterday"}, "query.since"),
        ({"fingerprint": "XYZ"}, "query.fingerprint"),
        ({"limit": "0"}, "query.limit"),
    ],
)
def test_bad_history_parameters(client: TestClient, params: dict[str, str], loc: str) -> None:
    response = client.get("/api/v1/alerts/history", params=params)
    assert response.status_code == 400
    assert_error_shape(response.json(), loc)


def test_attempts_per_alert(client: TestClient, stored: list[Alert]) -> None:
    fingerprint = stored[2].fingerprint
    rows = [
        AttemptRow(fingerprint, "high_error_rate", "pagerduty", "n1", "pagerduty:{}", "https://events.pagerduty.com/",
                   n, NOW + n, 30, outcome, code, error, delay, outcome == "failed")
        for n, outcome, code, error, delay in [(1, "retry", 503, "HTTP 503", 500), (2, "delivered", 202, "", None)]
    ]  # fmt: skip
    insert_attempts(app_store(client), rows)
    body = client.get(f"/api/v1/alerts/{fingerprint}/attempts").json()
    assert body["fingerprint"] == fingerprint
    assert [
        (a["number"], a["outcome"], a["status_code"], a["error"], a["next_delay_ms"]) for a in body["attempts"]
    ] == [
        (2, "delivered", 202, None, None),
        (1, "retry", 503, "HTTP 503", 500),
    ]
    assert client.get(f"/api/v1/alerts/{stored[0].fingerprint}/attempts").json()["attempts"] == []
    bad = client.get("/api/v1/alerts/not-hex/attempts")
    assert bad.status_code == 400
    assert_error_shape(bad.json(), "path.fingerprint")
