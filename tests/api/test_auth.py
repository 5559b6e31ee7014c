"""Keys, scopes, the Host check and rate limits through the real app (chDB, Kafka, Redis).

The routes are walked from the app itself (its OpenAPI paths and its docs routes), so a route added
later is covered without touching this file. What each route needs is derived here from its OpenAPI
tags and method, independently of api.auth.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from starlette.routing import Route

from api.auth import KEYS_REFRESH_S
from perfpulse.settings import Settings
from storage.keys import revoke_key
from tests.alerting.receivers import free_port
from tests.api.apps import app_settings, app_store, assert_error_shape, keys_by_scope, new_topics, running_app
from tests.api.queryruns import count_query_runs

OPEN = {"/healthz", "/readyz"}
READ_ONLY_POSTS = {"/api/v1/rules/validate", "/api/v1/canary", "/api/v1/query/batch"}  # they write nothing


@pytest.fixture(scope="module")
def module_settings(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("auth") / "data"
    # Budgets wide enough for walking every route with one key; the limited app below tests limits.
    return app_settings(kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap), rate_write_per_s=50.0)


def walk(client: TestClient) -> list[tuple[str, str, str]]:
    """Every (method, concrete path, what it needs) of the app: its OpenAPI operations and docs routes."""
    document = client.app.openapi()  # type: ignore[attr-defined]
    found = []
    for template, operations in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "x", template)
        for method, operation in operations.items():
            method = method.upper()
            if template in OPEN:
                need = "open"
            elif {"ingest", "otlp"} & set(operation.get("tags", [])):
                need = "ingest"
            elif "keys" in operation.get("tags", []):
                need = "admin"  # listing keys too: who holds which key is the admin's business
            elif method == "GET" or template in READ_ONLY_POSTS:
                need = "read"
            else:
                need = "admin"
            found.append((method, path, need))
    docs = [r.path for r in client.app.routes if isinstance(r, Route) and not r.path.startswith("/api/")]  # type: ignore[attr-defined]
    assert {"/docs", "/openapi.json"} <= set(docs)
    found += [("GET", path, "read") for path in docs]
    assert len(found) > 25 and {need for *_, need in found} == {"open", "ingest", "read", "admin"}
    return found


def call(client: TestClient, method: str, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body: dict[str, str] | None = {} if method in ("POST", "PUT") else None
    response: httpx.Response = client.request(method, path, json=body, headers=headers)
    return response


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_without_any_key_everything_is_open(client: TestClient) -> None:
    assert client.get("/api/v1/keys").json() == {"keys": []}
    for method, path, _ in walk(client):
        status = call(client, method, path).status_code
        assert status not in (401, 403, 429), (method, path, status)
    # With no key, a web page of another origin cannot write (its requests carry no key to refuse).
    points = {"service": "s", "points": [{"name": "m", "value": 1.0, "ts": int(time.time() * 1000)}]}
    foreign = client.post("/api/v1/ingest/metrics", json=points, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert_error_shape(foreign.json(), "header.origin")
    same = client.post("/api/v1/ingest/metrics", json=points, headers={"Origin": "http://localhost"})
    assert same.status_code == 202


@pytest.fixture(scope="module")
def keys(client: TestClient) -> dict[str, str]:
    return keys_by_scope(client, "test")


def test_every_route_but_health_refuses_a_request_without_a_key(client: TestClient, keys: dict[str, str]) -> None:
    for method, path, need in walk(client):
        response = call(client, method, path)
        if need == "open":
            assert response.status_code in (200, 503), (method, path)
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_error_shape(response.json(), "header.authorization")


@pytest.mark.parametrize("scope", ["admin", "read", "ingest"])
def test_each_scope_reaches_exactly_its_routes(client: TestClient, keys: dict[str, str], scope: str) -> None:
    allowed = {"admin": {"open", "ingest", "read", "admin"}, "read": {"open", "read"}, "ingest": {"open", "ingest"}}
    for method, path, need in walk(client):
        response = call(client, method, path, keys[scope])
        if need in allowed[scope]:
            assert response.status_code not in (401, 403, 429), (scope, method, path, response.text)
        else:
            assert response.status_code == 403, (scope, method, path, response.status_code)
            body = response.json()
            assert_error_shape(body, "header.authorization")
            assert f"scope {scope!r}" in body["error"]


def test_an_unknown_key_is_401_and_no_answer_or_log_repeats_it(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = "pp_" + "a" * 52
    for header in (f"Bearer {forged}", forged, f"Basic {forged}", f"bearer {keys['read']}x"):
        response = client.get("/api/v1/services", headers={"Authorization": header})
        assert response.status_code == 401
        assert forged not in response.text and keys["read"] not in response.text
        assert "invalid_token" in response.headers["www-authenticate"] or header == forged or "Basic" in header
    assert forged not in caplog.text and keys["read"] not in caplog.text


def test_a_revoked_key_is_refused(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["admin"])
    made = client.post("/api/v1/keys", json={"scope": "read", "name": "short-lived"}, headers=admin).json()
    assert client.get("/api/v1/services", headers=bearer(made["key"])).status_code == 200
    # Revoked through this API: refused at once.
    assert client.delete(f"/api/v1/keys/{made['id']}", headers=admin).json()["revoked"] is not None
    assert client.get("/api/v1/services", headers=bearer(made["key"])).status_code == 401
    # Revoked by another process (straight in the store): refused within the cache's age.
    other = client.post("/api/v1/keys", json={"scope": "read"}, headers=admin).json()
    assert client.get("/api/v1/services", headers=bearer(other["key"])).status_code == 200
    assert revoke_key(app_store(client), other["id"]) is not None
    deadline = time.monotonic() + KEYS_REFRESH_S * 2 + 2
    while client.get("/api/v1/services", headers=bearer(other["key"])).status_code == 200:
        assert time.monotonic() < deadline, "a revoked key still works"
        time.sleep(0.2)
    listed = {k["id"]: k for k in client.get("/api/v1/keys", headers=admin).json()["keys"]}
    assert listed[made["id"]]["revoked"] and listed[other["id"]]["revoked"]
    assert all("key" not in k for k in listed.values())
    assert client.delete("/api/v1/keys/nope", headers=admin).status_code == 404


def test_the_control_token_opens_the_keys_endpoints_only(
    client: TestClient, keys: dict[str, str], module_settings: Settings
) -> None:
    path = module_settings.data_dir / "control.token"
    assert path.stat().st_mode & 0o777 == 0o600
    token = bearer(path.read_text())
    assert client.get("/api/v1/keys", headers=token).status_code == 200
    assert client.post("/api/v1/keys", json={"scope": "ingest"}, headers=token).status_code == 201
    assert client.get("/api/v1/services", headers=token).status_code == 401
    assert client.post("/api/v1/ingest/metrics", json={}, headers=token).status_code == 401


def test_the_dashboard_files_and_health_need_no_key(client: TestClient, keys: dict[str, str]) -> None:
    for path in ("/", "/assets/none.js", "/traces/abc", "/healthz"):
        assert client.get(path).status_code not in (401, 403), path
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(keys["read"])).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io", "localhost.evil"])
def test_a_foreign_host_is_400_while_listening_on_loopback(client: TestClient, host: str) -> None:
    response = client.get("/healthz", headers={"Host": host})
    assert response.status_code == 400
    assert_error_shape(response.json(), "header.host")


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST"])
def test_loopback_names_pass_the_host_check(client: TestClient, host: str) -> None:
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/ingest/metrics", "/api/v1/ingest/spans", "/v1/traces"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_ingest_refuses_what_a_page_may_send_across_sites(
    client: TestClient, keys: dict[str, str], path: str, content_type: str
) -> None:
    headers = {**bearer(keys["ingest"]), "Content-Type": content_type}
    assert client.post(path, content=b"{}", headers=headers).status_code == 415


@pytest.fixture(scope="module")
def otlp_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def limited(
    module_settings: Settings, client: TestClient, keys: dict[str, str], otlp_port: int
) -> Iterator[TestClient]:
    """A second app on the same store: small query budget, /metrics left open, an allowed host, and
    OTLP on a port of its own."""
    settings = module_settings.model_copy(
        update={
            "rate_query_per_s": 0.5,
            "rate_query_burst": 3,
            "metrics_open": True,
            "allowed_hosts": "perfpulse.internal, other.example",
            "otlp_port": otlp_port,
            # a transactional id of its own: two live producers of one id fence each other (503s)
            "ingest_transactional_id": f"{module_settings.transactional_id}-limited",
        }
    )
    with running_app(settings, with_sink=False, with_notifier=False) as running:
        yield running


def fresh_read_key(client: TestClient, keys: dict[str, str], limited: TestClient) -> tuple[str, str]:
    made = client.post("/api/v1/keys", json={"scope": "read"}, headers=bearer(keys["admin"])).json()
    deadline = time.monotonic() + KEYS_REFRESH_S * 2 + 2
    while limited.get("/docs", headers=bearer(made["key"])).status_code == 401:  # a 401 takes no token
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return made["id"], made["key"]


def test_a_key_past_its_budget_gets_429_with_retry_after_then_recovers(
    client: TestClient, keys: dict[str, str], limited: TestClient, redis_url: str, module_settings: Settings
) -> None:
    key_id, key = fresh_read_key(client, keys, limited)  # one token of the three taken
    statuses = [limited.get("/docs", headers=bearer(key)).status_code for _ in range(3)]  # a cheap read
    assert statuses == [200, 200, 429]
    refused = limited.get("/docs", headers=bearer(key))
    assert refused.status_code == 429
    assert_error_shape(refused.json())
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 2  # a token every 2 s
    # The bucket lives in Redis, shared by every API process.
    bucket = f"{module_settings.topic_prefix}ratelimit:query:{key_id}"
    assert redis.Redis.from_url(redis_url).exists(bucket) == 1
    # Another key, and the other budgets of this one, are untouched.
    assert limited.get("/api/v1/services", headers=bearer(keys["read"])).status_code == 200
    time.sleep(retry + 0.1)
    assert limited.get("/docs", headers=bearer(key)).status_code == 200


def test_metrics_can_be_left_open_and_allowed_hosts_pass(limited: TestClient) -> None:
    assert limited.get("/metrics").status_code == 200
    assert limited.get("/api/v1/services").status_code == 401
    for host in ("perfpulse.internal", "other.example:443"):
        assert limited.get("/healthz", headers={"Host": host}).status_code == 200
    assert limited.get("/healthz", headers={"Host": "third.example"}).status_code == 400


def test_the_otlp_port_applies_the_same_rules(limited: TestClient, otlp_port: int, keys: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{otlp_port}/v1/traces"
    json_type = {"Content-Type": "application/json"}
    assert httpx.post(url, content=b"{}", headers=json_type).status_code == 401
    assert httpx.post(url, content=b"{}", headers={**json_type, **bearer(keys["read"])}).status_code == 403
    # As an OTLP exporter sends it (OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <key>").
    assert httpx.post(url, content=b"{}", headers={**json_type, **bearer(keys["ingest"])}).status_code == 200
    assert httpx.post(url, content=b"{}", headers={**json_type, "Host": "evil.example"}).status_code == 400


def test_keys_endpoint_validates_its_body(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["admin"])
    for body in ({"scope": "root"}, {"scope": "read", "name": "x" * 101}, {"scope": "read", "extra": 1}, {}):
        response = client.post("/api/v1/keys", json=body, headers=admin)
        assert response.status_code == 400, body
        assert_error_shape(response.json())


def test_keys_are_listed_without_secrets(client: TestClient, keys: dict[str, str]) -> None:
    listed = client.get("/api/v1/keys", headers=bearer(keys["admin"])).json()["keys"]
    assert {"admin", "read", "ingest"} <= {k["scope"] for k in listed}
    text = str(listed)
    assert all(key not in text for key in keys.values())


def test_the_openapi_document_names_the_key_on_every_protected_operation(client: TestClient) -> None:
    document = client.app.openapi()  # type: ignore[attr-defined]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for template, operations in document["paths"].items():
        for operation in operations.values():
            if template in OPEN:
                assert "security" not in operation
                continue
            assert operation["security"] == [{"apiKey": []}], template
            assert {"401", "403", "429"} <= set(operation["responses"]), template


def test_keys_are_looked_up_in_memory_not_in_clickhouse_per_request(client: TestClient, keys: dict[str, str]) -> None:
    cache = client.app.state.auth.keys  # type: ignore[attr-defined]
    reads = 0
    load = cache._load

    def counted() -> object:
        nonlocal reads
        reads += 1
        return load()

    cache._load = counted
    try:
        points = {"service": "s", "points": [{"name": "m", "value": 1.0}]}
        started = time.monotonic()
        for _ in range(50):
            assert client.post("/api/v1/ingest/metrics", json=points, headers=bearer(keys["ingest"])).status_code == 202
        elapsed = time.monotonic() - started
    finally:
        cache._load = load
    # At most one background read per KEYS_REFRESH_S, whatever the number of requests.
    assert reads <= elapsed / KEYS_REFRESH_S + 1, (reads, elapsed)


def test_an_answer_given_again_on_the_short_path_still_takes_a_key_and_its_budget(
    client: TestClient, keys: dict[str, str], limited: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = count_query_runs(monkeypatch)
    _, key = fresh_read_key(client, keys, limited)  # one token of the three taken
    target = "/api/v1/query?metric=short.path&stats=count"
    assert limited.get(target).status_code == 401  # no key: refused before any answer kept
    statuses = [limited.get(target, headers=bearer(key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429] and len(ran) == 1  # the second answered without the route, counted
    assert limited.get(target).status_code == 401
