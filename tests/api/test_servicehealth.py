"""``GET /api/v1/services/{service}/health`` over the real app and store: scores of services and
instances from their last minutes of ``http.server.duration``, and bad parameters."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from alerting.notify.notifier import Notifier
from alerting.rules import AlertTransition, State
from api.models_services import ServiceHealth
from api.params import now_ms
from perfpulse.settings import Settings
from perfpulse.stages import notifier_name
from storage.alerts import save_notifier_state
from tests.api.apps import app_store, assert_error_shape
from tests.api.test_health_scores import status
from tests.storage.builders import insert_rows, window_row


def seed(client: TestClient, service: str, *series: tuple[list[float], dict[str, str]]) -> None:
    """Each (values, labels) in a window a minute ago (inside the default 5-minute window), in one
    insert (the tier copy of a seeded insert re-reads its whole key range)."""
    start = (now_ms() - 60_000) // 1_000 * 1_000
    rows = [window_row(values, window_start_ms=start, service=service, labels=labels) for values, labels in series]
    insert_rows(app_store(client), rows)


def health(client: TestClient, service: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/services/{service}/health", params=params)
    assert response.status_code == 200, response.text
    ServiceHealth.model_validate_json(response.content, strict=True)
    answer: dict[str, Any] = response.json()
    return answer


def test_a_service_on_target_scores_one(client: TestClient) -> None:
    seed(client, "ledger", ([10.0, 20.0, 30.0] * 100, {"status_code": "200"}))
    answer = health(client, "ledger")
    assert answer["score"] == 1.0 and answer["end"] - answer["start"] == 300_000
    assert answer["targets"] == {"p50_ms": 50.0, "p95_ms": 200.0, "p99_ms": 500.0, "error_rate": 0.001}
    [whole] = answer["health"]
    assert (whole["instance"], whole["requests"], whole["errors"], whole["reasons"]) == (None, 300, 0, [])
    assert whole["p95"] == pytest.approx(30.0, rel=1e-3)


def test_a_slow_service_scores_its_target_over_its_p95(client: TestClient) -> None:
    seed(client, "reports", ([20.0] * 900 + [400.0] * 100, {"status_code": "200"}))
    [whole] = health(client, "reports")["health"]
    assert whole["score"] == pytest.approx(200.0 / 400.0, rel=2e-3)  # p95 400 ms against 200 ms
    assert len(whole["reasons"]) == 1 and whole["reasons"][0].startswith(("p95 399.", "p95 400."))


def test_instances_are_scored_alone_and_the_lowest_is_the_score(client: TestClient) -> None:
    seed(
        client,
        "pricing",
        ([10.0] * 1_000, {"status_code": "200", "instance": "10.0.0.1:80"}),
        ([10.0] * 900, {"status_code": "200", "instance": "10.0.0.2:80"}),
        ([10.0] * 100, {"status_code": "503", "instance": "10.0.0.2:80"}),  # 10 % errors
    )
    answer = health(client, "pricing", instance="10.0.0.1:80,10.0.0.2:80")
    assert [h["instance"] for h in answer["health"]] == ["10.0.0.1:80", "10.0.0.2:80"]
    first, second = answer["health"]
    assert first["score"] == 1.0 and (second["requests"], second["errors"]) == (1_000, 100)
    assert second["score"] == pytest.approx(0.01) == answer["score"]  # 0.1 % target / 10 % errors
    repeated = health(client, "pricing", instance=["10.0.0.1:80", "10.0.0.9:80"])
    assert repeated["score"] == 1.0 and repeated["health"][1]["requests"] == 0  # no traffic: nothing against it
    assert health(client, "pricing")["health"][0]["requests"] == 2_000


class NoSender:
    async def send(self, channel: Any, notification: Any) -> list[Any]:
        raise AssertionError("nothing is sent here")


def test_firing_alerts_of_the_saved_notifier_state_lower_the_score(
    client: TestClient, module_settings: Settings
) -> None:
    """A notifier state saved as the notifier saves it (a version above any it reaches in a test)."""
    seed(client, "billing", ([10.0] * 500, {"status_code": "200", "instance": "b1"}))
    notifier = Notifier({}, sender=NoSender())
    firing = [
        status("billing", "critical").alert,  # service-wide
        status("billing", "critical", instance="b2").alert,
        status("billing", "warning", instance="b1").alert,  # inhibited by the critical one (default rule)
        status("elsewhere", "critical").alert,  # another service: not counted
    ]
    notifier.receive([AlertTransition(alert, State.PENDING, now_ms()) for alert in firing])
    state = orjson.dumps({"notifier": notifier.snapshot()}).decode()
    save_notifier_state(app_store(client), notifier_name(module_settings), 10**12, state)
    deadline = time.monotonic() + 10
    # saved behind the API's back: its reads share a view of the state for up to VIEW_TTL_S
    while (answer := health(client, "billing", instance="b1,b2"))["score"] == 1.0:
        assert time.monotonic() < deadline, "the saved state never showed"
        time.sleep(0.2)
    b1, b2 = answer["health"]
    assert b1["score"] == 0.25 and [a["rule"] for a in b1["alerts"]] == ["slow_critical"]
    assert b1["reasons"] == ["alert slow_critical (critical) firing: x0.25"] and b1["requests"] == 500
    both = sorted([firing[0].fingerprint, firing[1].fingerprint])
    assert sorted(a["fingerprint"] for a in b2["alerts"]) == both and b2["requests"] == 0
    assert answer["score"] == 0.25
    assert sorted(a["fingerprint"] for a in health(client, "billing")["health"][0]["alerts"]) == both


def test_an_unknown_service_has_no_requests(client: TestClient) -> None:
    [whole] = health(client, "nobody", window="1m")["health"]
    assert whole["score"] == 1.0 and whole["requests"] == 0 and whole["p50"] is None


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"window": "1s"}, "query.window"),
        ({"window": "2h"}, "query.window"),
        ({"window": "soon"}, "query.window"),
        ({"instance": ",".join(f"i{n}" for n in range(65))}, "query.instance"),
        ({"instance": "x" * 300}, "query.instance"),
    ],
)
def test_bad_parameters_are_named(client: TestClient, params: dict[str, str], loc: str) -> None:
    response = client.get("/api/v1/services/ledger/health", params=params)
    assert response.status_code == 400, response.text
    assert_error_shape(response.json(), loc)
