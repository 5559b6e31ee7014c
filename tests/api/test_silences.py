"""``/api/v1/silences`` through the real app: create, list, read, expire; bad silences refused in
the API's error shape; every change queued for the notifier, listed at once, and in the notifier's
saved state once it applied it (within a second)."""

from __future__ import annotations

import time

import orjson
import pytest
from fastapi.testclient import TestClient

from api.params import now_ms
from perfpulse.settings import Settings
from storage.alerts import load_notifier_state
from tests.api.apps import app_store, assert_error_shape

pytestmark = pytest.mark.integration


def saved_silences(client: TestClient, settings: Settings) -> dict[str, int]:
    """Silence id -> ends_at_ms, as the notifier state saved in ClickHouse holds them."""
    loaded = load_notifier_state(app_store(client), f"{settings.consumer_group}-notifier")
    if loaded is None:
        return {}  # nothing saved yet
    return {s["id"]: s["ends_at_ms"] for s in orjson.loads(loaded[1])["notifier"]["silences"]}


def wait_saved(client: TestClient, settings: Settings, silence_id: str, ends_at_ms: int) -> None:
    """Wait until the notifier applied the change and saved it (it polls commands every 0.5 s)."""
    deadline = time.monotonic() + 15
    while saved_silences(client, settings).get(silence_id) != ends_at_ms:
        assert time.monotonic() < deadline, f"the notifier did not save silence {silence_id} ending {ends_at_ms}"
        time.sleep(0.2)


def test_silence_crud(client: TestClient, module_settings: Settings) -> None:
    created = client.post(
        "/api/v1/silences",
        json={
            "matchers": 'service="gateway", alertname=~"high_.*"',
            "duration": "2h",
            "comment": "deploying gateway",
            "created_by": "ops@example.com",
        },
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["state"] == "active" and silence["created_by"] == "ops@example.com"
    assert silence["matchers"] == [
        {"name": "service", "op": "=", "value": "gateway"},
        {"name": "alertname", "op": "=~", "value": "high_.*"},
    ]
    assert silence["ends_at_ms"] - silence["starts_at_ms"] == 2 * 3_600_000
    wait_saved(client, module_settings, silence["id"], silence["ends_at_ms"])

    later = now_ms() + 3_600_000
    pending = client.post(
        "/api/v1/silences",
        json={
            "matchers": [{"name": "service", "op": "=", "value": "frontend"}],
            "starts_at": later,
            "ends_at": later + 60_000,
            "comment": "maintenance window",
            "created_by": "ops",
        },
    ).json()
    assert pending["state"] == "pending"

    listed = client.get("/api/v1/silences").json()["silences"]
    assert {s["id"] for s in listed} >= {silence["id"], pending["id"]}
    active = client.get("/api/v1/silences", params={"state": "active"}).json()["silences"]
    assert silence["id"] in [s["id"] for s in active] and pending["id"] not in [s["id"] for s in active]
    assert client.get(f"/api/v1/silences/{silence['id']}").json()["comment"] == "deploying gateway"

    expired = client.delete(f"/api/v1/silences/{silence['id']}")
    assert expired.status_code == 200 and expired.json()["state"] == "expired"
    wait_saved(client, module_settings, silence["id"], expired.json()["ends_at_ms"])
    expired_list = client.get("/api/v1/silences", params={"state": "expired"}).json()["silences"]
    assert silence["id"] in [s["id"] for s in expired_list]
    assert client.delete("/api/v1/silences/no-such-id").status_code == 404
    assert client.get("/api/v1/silences/no-such-id").status_code == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"matchers": 'service=~".*"', "duration": "1h"}, "body"),  # would silence everything
        ({"matchers": "service=", "duration": "1h"}, "body"),
        ({"matchers": 'service="a"'}, "body.ends_at"),  # neither ends_at nor duration
        ({"matchers": 'service="a"', "duration": "soon"}, "body.duration"),
        ({"matchers": 'service="a"', "ends_at": "yesterday"}, "body.ends_at"),
        ({"matchers": [{"name": "service", "op": "~~", "value": "a"}], "duration": "1h"}, "body.matchers.0"),
        ({"matchers": 'service="a"', "ends_at": 1_000}, "body"),  # in the past
    ],
)
def test_bad_silences_are_refused(client: TestClient, body: dict[str, object], loc: str) -> None:
    response = client.post("/api/v1/silences", json={"comment": "c", "created_by": "me", **body})
    assert response.status_code == 400, response.text
    assert_error_shape(response.json(), loc)


def test_unknown_state_filter_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/silences", params={"state": "sleeping"})
    assert response.status_code == 400
    assert_error_shape(response.json(), "query.state")
