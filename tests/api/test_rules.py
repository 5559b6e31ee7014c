"""``/api/v1/rules`` through the real app: list without secrets, create / update / delete round
trips with the rules file on disk (the rest of the file kept as written), validation with line and
column, errors in the API's shape."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from perfpulse.settings import DEFAULT_RULES, Settings
from tests.alerting.rules.shipped import SHIPPED_RULES
from tests.api.apps import app_settings, assert_error_shape, new_topics, running_app

pytestmark = pytest.mark.integration

SECRET_URL = "http://127.0.0.1:9/hook?token=sekrit-url-token"
HEADER = "# operator's notes: keep this comment\n"


@pytest.fixture(scope="module")
def rules_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "alerts.yaml"
    text = DEFAULT_RULES.read_text().replace(
        "channels:\n",
        f'channels:\n  team-hook:\n    type: webhook\n    url: "{SECRET_URL}"\n    secret: "sekrit-hmac"\n',
        1,
    )
    path.write_text(HEADER + text)
    return path


@pytest.fixture(scope="module")
def client(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory, rules_path: Path
) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("rules-api") / "data"
    settings: Settings = app_settings(
        kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap), rules=rules_path
    )
    with running_app(settings, with_sink=False) as running:
        yield running


def on_disk(path: Path) -> list[str]:
    return [r["name"] for r in yaml.safe_load(path.read_text())["alerts"]]


def test_rules_and_channels_are_listed_without_secrets(client: TestClient, rules_path: Path) -> None:
    response = client.get("/api/v1/rules")
    assert response.status_code == 200
    body = response.json()
    assert body["file"] == str(rules_path) and body["loaded"] is True and body["errors"] == []
    assert [r["name"] for r in body["rules"]] == SHIPPED_RULES
    first = body["rules"][0]
    assert (first["condition"], first["severity"], first["for_ms"]) == ("response_time.p95 > 200", "warning", 10_000)
    hook = next(c for c in body["channels"] if c["name"] == "team-hook")
    assert hook["enabled"] is True and hook["target"] == "http://127.0.0.1:9/****"
    assert "sekrit" not in response.text
    assert client.get("/api/v1/rules/high_error_rate").json()["rule"]["severity"] == "critical"
    missing = client.get("/api/v1/rules/nope")
    assert missing.status_code == 404
    assert_error_shape(missing.json())


def test_create_update_delete_round_trip_through_the_file(client: TestClient, rules_path: Path) -> None:
    rule = {
        "name": "slow_checkout",
        "condition": 'response_time.p99{route="/checkout"} > 800',
        "for": "20s",
        "severity": "critical",
        "notification": ["team-hook"],
        "annotations": {"summary": "p99 of {{ $labels.service }} is {{ $value }} ms"},
    }
    created = client.post("/api/v1/rules", json=rule)
    assert created.status_code == 201, created.text
    assert created.json()["rule"]["for_ms"] == 20_000 and created.json()["rule"]["notification"] == ["team-hook"]
    assert on_disk(rules_path)[-1] == "slow_checkout"
    text = rules_path.read_text()
    assert text.startswith(HEADER) and "# perfpulse alert rules" in text, "the rest of the file is kept"
    assert [r["name"] for r in client.get("/api/v1/rules").json()["rules"]][-1] == "slow_checkout"
    again = client.post("/api/v1/rules", json=rule)
    assert again.status_code == 409
    assert_error_shape(again.json(), "body.name")

    updated = client.put("/api/v1/rules/slow_checkout", json={**rule, "condition": "response_time.p99 > 900"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["rule"]["condition"] == "response_time.p99 > 900"
    assert yaml.safe_load(rules_path.read_text())["alerts"][-1]["condition"] == "response_time.p99 > 900"
    assert client.get("/api/v1/rules/slow_checkout").json()["rule"]["condition"] == "response_time.p99 > 900"
    assert client.put("/api/v1/rules/nope", json=rule).status_code == 404

    deleted = client.delete("/api/v1/rules/slow_checkout")
    assert deleted.status_code == 200 and deleted.json()["deleted"] == "slow_checkout"
    assert "slow_checkout" not in on_disk(rules_path)
    assert "slow_checkout" not in [r["name"] for r in client.get("/api/v1/rules").json()["rules"]]
    assert client.delete("/api/v1/rules/slow_checkout").status_code == 404


def test_an_invalid_rule_is_refused_with_its_position_and_changes_nothing(client: TestClient, rules_path: Path) -> None:
    before = rules_path.read_text()
    response = client.post(
        "/api/v1/rules", json={"name": "broken", "condition": "response_time.p95 >", "notification": ["nowhere"]}
    )
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body)
    locs = [d["loc"] for d in body["details"]]
    assert all(loc.startswith(f"{rules_path}:") for loc in locs), locs
    msgs = " | ".join(d["msg"] for d in body["details"])
    assert "expected a number after '>'" in msgs and "channel 'nowhere' is not defined" in msgs
    assert rules_path.read_text() == before
    unknown = client.post("/api/v1/rules", json={"name": "x", "condition": "a > 1", "bogus": 1})
    assert unknown.status_code == 400
    assert_error_shape(unknown.json(), "body.bogus")


def test_validate_a_whole_file_or_one_rule(client: TestClient, rules_path: Path) -> None:
    text = textwrap.dedent(
        """\
        alerts:
          - name: ok
            condition: response_time.p95 > 200
          - name: bad
            condition: response_time.p95 >> 200
            severity: loud
        """
    )
    response = client.post("/api/v1/rules/validate", json={"text": text})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    positions = [(e["line"], e["column"]) for e in body["errors"]]
    assert positions == [(5, 35), (6, 15)], body["errors"]
    assert body["errors"][1] == {
        "file": str(rules_path),
        "line": 6,
        "column": 15,
        "reason": "alert 'bad': unknown severity 'loud'; expected critical, warning or info",
    }
    good = client.post("/api/v1/rules/validate", json={"text": "alerts: []\n"}).json()
    assert good == {"valid": True, "errors": [], "warnings": []}
    one = client.post("/api/v1/rules/validate", json={"rule": {"name": "x", "condition": "response_time.p95 > 1"}})
    assert one.json()["valid"] is True
    wrong = client.post("/api/v1/rules/validate", json={"rule": {"name": "x", "condition": "error_rate >"}}).json()
    assert wrong["valid"] is False and "expected a number" in wrong["errors"][0]["reason"]
    assert client.post("/api/v1/rules/validate", json={}).status_code == 400
    assert on_disk(rules_path) == SHIPPED_RULES


def test_validation_checks_channels_without_reading_this_process_environment(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posted text is checked as written: ``${VAR}`` in channel settings is never resolved, so no
    answer shows a variable's value or whether it is set; both readers' errors come in file order."""
    monkeypatch.setenv("PERFPULSE_TEST_SECRET", "not-an-address-but-a-secret")
    text = textwrap.dedent(
        """\
        channels:
          mail: {type: email, host: h, from: "${PERFPULSE_TEST_SECRET}", to: [x@y.z]}
          dark: {type: slack, url: "${PERFPULSE_TEST_UNSET}"}
          hook: {type: webhook, url: "http://h/${OOPS"}
        alerts: [{name: a, condition: response_time.p95 > 1, notification: [mail, dark, nowhere]}]
        """
    )
    response = client.post("/api/v1/rules/validate", json={"text": text})
    assert response.status_code == 200 and "not-an-address-but-a-secret" not in response.text
    body = response.json()
    assert body["valid"] is False and body["warnings"] == []
    assert [(e["line"], e["reason"]) for e in body["errors"]] == [
        (4, "channel 'hook': unclosed '${' at character 10: expected '}'"),
        (5, "alert 'a': channel 'nowhere' is not defined under channels: (defined: dark, hook, mail)"),
    ]
