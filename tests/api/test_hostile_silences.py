"""Silences that would mute everything, last for ever or stall the notifier, through the real HTTP
API (app on a real chDB store and Kafka): 400 with the reason, and nothing queued for the notifier."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alerting.notify.silences import MAX_SILENCE_MS, new_silence
from api.params import now_ms
from api.silences import MAX_SILENCES
from schemas.notifier import CommandKind
from storage.alerts import commands_since, queue_command
from tests.api.apps import app_store, assert_error_shape

pytestmark = pytest.mark.integration


def silence(**fields: Any) -> dict[str, Any]:
    return {"matchers": 'service="gateway"', "duration": "1h", "comment": "maintenance", "created_by": "me", **fields}


def queued(client: TestClient) -> int:
    return len(commands_since(app_store(client), 0))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"matchers": ""}, "at least one matcher"),
        ({"matchers": []}, "at least one matcher"),
        ({"matchers": "{}"}, "at least one matcher"),
        ({"matchers": 'alertname=~".*"'}, "mute everything"),
        ({"matchers": 'alertname=~".+"'}, "matches every alert"),
        ({"matchers": 'alertname!=""'}, "matches every alert"),
        ({"matchers": 'alertname!~"nothing|else"'}, "mute everything"),
        ({"matchers": 'severity=~"critical|warning|info"'}, "matches every alert"),
        ({"matchers": 'severity=~"(critical|warning|info)", alertname=~"[^\\n]*"'}, "matches every alert"),
        ({"matchers": [{"name": "alertname", "op": "=~", "value": ".+"}]}, "matches every alert"),
        ({"matchers": 'service!="x", team=~".*"'}, "mute everything"),
        ({"matchers": 'service=~"(a)\\\\1"'}, "invalid escape sequence"),
        ({"matchers": [{"name": "service", "op": "=~", "value": "(?=a)a"}]}, "invalid perl operator"),
        ({"matchers": [{"name": "service", "op": "=~", "value": "a" * 1_025}]}, "at most 1024 characters"),
        ({"matchers": 'service=~"' + "a" * 1_025 + '"'}, "the limit is 1024"),
        ({"duration": "367d"}, "at most 366 days"),
        ({"duration": "1000000000000d"}, "the limit is"),
        # A day past the bound: these times are taken when the tests are collected, minutes before they run.
        ({"duration": None, "ends_at": now_ms() + MAX_SILENCE_MS + 86_400_000}, "at most 366 days"),
        ({"starts_at": now_ms() + MAX_SILENCE_MS + 86_400_000}, "at most 366 days ahead"),
        ({"starts_at": "9999-12-31T00:00:00Z"}, "outside what the store holds"),
        ({"matchers": [{"name": "service", "op": "=", "value": "x"}] * 33}, "at most 32 items"),
        ({"comment": "c" * 1_025}, "at most 1024 characters"),
    ],
)
def test_a_hostile_silence_is_refused_with_its_reason_and_nothing_queued(
    client: TestClient, fields: dict[str, Any], reason: str
) -> None:
    before = queued(client)
    body = silence(**fields)
    response = client.post("/api/v1/silences", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400, response.text
    assert_error_shape(response.json())
    assert reason in str(response.json()), response.json()
    assert queued(client) == before


def test_a_regex_silence_is_matched_in_linear_time_against_a_long_label(client: TestClient) -> None:
    """``(a+)+b`` against 1,024 a's (the longest label value) would take a backtracking engine about
    2**1024 steps; the silence is taken and the alert listing, which matches every alert against it,
    answers."""
    before = queued(client)
    created = client.post("/api/v1/silences", json=silence(matchers='service=~"(a+)+b"'))
    assert created.status_code == 201, created.text
    assert queued(client) == before + 1
    assert client.get("/api/v1/alerts").status_code == 200
    listed = client.get(f"/api/v1/silences/{created.json()['id']}").json()
    assert listed["matchers"] == [{"name": "service", "op": "=~", "value": "(a+)+b"}]


def test_silences_past_the_bound_held_are_refused(client: TestClient) -> None:
    """The notifier saves every silence it holds: past MAX_SILENCES a new one is refused. The first
    ones are queued straight into storage, as the API queues them (a thousand POSTs would spend the
    write budget)."""
    store = app_store(client)
    held = len(client.get("/api/v1/silences").json()["silences"])
    now = now_ms()
    for i in range(MAX_SILENCES - held):
        made = new_silence(f"bulk-{i}", f'service="s{i}"', now, now + 3_600_000, "bulk", "me", now)
        queue_command(store, CommandKind.ADD_SILENCE, made.to_dict())
    # queued behind the API's back: its reads share a view of the notifier's state for a second, then
    # serve it while a new one is read (api/notifier.py)
    deadline = time.monotonic() + 30
    while len(client.get("/api/v1/silences").json()["silences"]) != MAX_SILENCES:
        assert time.monotonic() < deadline, "the queued silences never showed"
        time.sleep(0.2)
    before = queued(client)
    response = client.post("/api/v1/silences", json=silence())
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "too many silences",
        "details": [
            {
                "loc": "body",
                "msg": f"{MAX_SILENCES} silences are held (pending, active or expired today), "
                f"the limit is {MAX_SILENCES}",
            }
        ],
    }
    assert queued(client) == before
