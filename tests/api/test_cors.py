"""CORS on the ingest endpoints only, for the origins listed in ``cors_origins``, through the real app
(chDB, Kafka, Redis): a listed page's preflight is answered before authentication, its POST goes
through keys and scopes as any other; reads and other origins get no CORS headers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from perfpulse.settings import Settings
from tests.api.apps import app_settings, keys_by_scope, new_topics, running_app

SHOP = "https://shop.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture(scope="module")
def client(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("cors") / "data"
    settings = app_settings(
        kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap), cors_origins=f"{SHOP}, http://localhost:5173"
    )
    with running_app(settings, with_sink=False, with_notifier=False) as app:
        yield app


@pytest.fixture(scope="module")
def keys(client: TestClient) -> dict[str, str]:
    return keys_by_scope(client, "cors")


def points() -> dict[str, object]:
    return {"service": "frontend", "points": [{"name": "browser.lcp", "value": 812.0, "ts": int(time.time() * 1000)}]}


def test_a_listed_pages_preflight_is_answered_without_a_key(client: TestClient) -> None:
    answer = client.options("/api/v1/ingest/metrics", headers={"Origin": SHOP, **PREFLIGHT})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == SHOP
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()


def test_a_listed_pages_post_needs_an_ingest_key_and_carries_cors_headers(
    client: TestClient, keys: dict[str, str]
) -> None:
    keyless = client.post("/api/v1/ingest/metrics", json=points(), headers={"Origin": SHOP})
    assert keyless.status_code == 401
    wrong_scope = {"Origin": SHOP, "Authorization": f"Bearer {keys['read']}"}
    assert client.post("/api/v1/ingest/metrics", json=points(), headers=wrong_scope).status_code == 403
    sent = client.post(
        "/api/v1/ingest/metrics",
        json=points(),
        headers={"Origin": SHOP, "Authorization": f"Bearer {keys['ingest']}"},
    )
    assert sent.status_code == 202, sent.text
    assert sent.headers["access-control-allow-origin"] == SHOP


def test_other_origins_and_other_paths_get_no_cors_headers(client: TestClient, keys: dict[str, str]) -> None:
    other = client.options("/api/v1/ingest/metrics", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    read = {"Origin": SHOP, "Authorization": f"Bearer {keys['read']}"}
    answer = client.get("/api/v1/services", headers=read)
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    preflight = client.options("/api/v1/services", headers={"Origin": SHOP, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("origins", ["*", "https://shop.example.com/", "shop.example.com", "https://a.com/path"])
def test_anything_but_an_exact_origin_is_refused(origins: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_origins=origins, data_dir=tmp_path)
