"""The dashboard's files at ``/``: index for every client route, hashed assets cached for a year, the
API's paths left to the API, and a 503 page naming ``make dashboard`` while nothing is built."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import install_error_handlers
from api.dashboard import ASSET_CACHE, INDEX_CACHE, dashboard_router
from api.httpcache import HttpCacheMiddleware

INDEX = '<!doctype html><html><body><div id="root"></div><script src="/assets/index-a1b2c3.js"></script></body></html>'
SCRIPT = "console.log('perfpulse');"


def served(static_dir: Path) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/v1/known")
    async def known() -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(dashboard_router(static_dir))
    return TestClient(app)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-a1b2c3.js").write_text(SCRIPT)
    (tmp_path / "secret.txt").write_text("outside assets")
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/traces", "/traces/4bf92f3577b34da6a3ce929d0e0e4736", "/logs?level=error"])
def test_every_client_route_gets_the_index_never_cached(build: Path, path: str) -> None:
    response = served(build).get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == INDEX_CACHE


def test_hashed_assets_are_cached_for_a_year(build: Path) -> None:
    response = served(build).get("/assets/index-a1b2c3.js")
    assert response.status_code == 200
    assert response.text == SCRIPT
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == ASSET_CACHE == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/assets/index-old.js", "/assets/..%2Fsecret.txt", "/assets/../secret.txt"])
def test_a_missing_or_escaping_asset_is_404(build: Path, path: str) -> None:
    response = served(build).get(path)
    assert response.status_code == 404
    assert "outside assets" not in response.text


def test_api_paths_stay_the_apis(build: Path) -> None:
    client = served(build)
    assert client.get("/api/v1/known").json() == {"ok": "yes"}
    missing = client.get("/api/v1/unknown")
    assert missing.status_code == 404
    assert missing.json()["error"] == "Not Found"
    assert client.get("/favicon.ico").status_code == 404  # a file name, not a page of the app


def test_without_a_build_every_page_is_503_naming_make_dashboard(tmp_path: Path) -> None:
    client = served(tmp_path)
    for path in ("/", "/alerts"):
        response = client.get(path)
        assert response.status_code == 503
        assert "make dashboard" in response.text
        assert str(tmp_path) in response.text
        assert response.headers["retry-after"] == "30"
    assert client.get("/api/v1/known").status_code == 200


def test_a_build_made_while_running_is_served_at_once(tmp_path: Path) -> None:
    client = served(tmp_path)
    assert client.get("/").status_code == 503
    (tmp_path / "index.html").write_text(INDEX)
    assert client.get("/").text == INDEX


def test_the_app_serves_the_dashboard_after_its_api(client: TestClient) -> None:
    """In the real app the fallback comes last: the API, health and docs keep their answers."""
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    assert client.get("/api/v1/nothing-here").status_code == 404
    assert client.get("/").status_code in (200, 503)  # built or not, the dashboard answers


def test_assets_are_compressed_by_the_http_layer(build: Path) -> None:
    """Served as whole bodies, so the app's HTTP middleware compresses them (a file stream passed
    through it uncompressed: 230 KB of script where ~73 KB gzipped would do)."""
    script = "export const rows = [" + ",".join(f"{{id:{i},name:'row {i}'}}" for i in range(2_000)) + "];"
    (build / "assets" / "index-big.js").write_text(script)
    response = TestClient(HttpCacheMiddleware(served(build).app)).get(
        "/assets/index-big.js", headers={"Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == script  # decoded by the client
    assert int(response.headers["content-length"]) < len(script) // 4
