"""HTTP caching and compression of the real app's answers: ETag and 304, Cache-Control for settled
and open ranges, brotli and gzip per Accept-Encoding above the threshold, Server-Timing."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import brotli
import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from api import httpcache
from api import query as query_module
from api.bodies import etag_of
from api.httpcache import SETTLED_MAX_AGE_S, HttpCacheMiddleware, choose_encoding
from api.responses import render_json
from schemas.events import StoredWindow
from tests.api.apps import app_store
from tests.api.queryruns import count_query_runs
from tests.storage.builders import BASE_MS, insert_rows, window_row

SETTLED = {"metric": "http.cached", "start": BASE_MS, "end": BASE_MS + 600_000, "step": "1s"}


@pytest.fixture(scope="module", autouse=True)
def rows(client: TestClient) -> None:
    starts = range(BASE_MS, BASE_MS + 300_000, 1_000)
    insert_rows(app_store(client), [window_row([float(i % 50)], name="http.cached", window_start_ms=s) for i, s in
                                    enumerate(starts)])  # fmt: skip


def get(client: TestClient, params: dict[str, Any], **headers: str) -> httpx.Response:
    response: httpx.Response = client.get("/api/v1/query", params=params, headers=headers)
    return response


def test_a_matching_etag_is_a_304_without_body(client: TestClient) -> None:
    first = get(client, SETTLED)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = get(client, SETTLED, **{"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    listed = get(client, SETTLED, **{"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    other = get(client, SETTLED, **{"If-None-Match": '"other"'})
    assert (other.status_code, other.content) == (200, first.content)
    changed = get(client, {**SETTLED, "stats": "count"}, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_cache_control_fits_settled_and_open_ranges(client: TestClient) -> None:
    assert get(client, SETTLED).headers["cache-control"] == f"private, max-age={SETTLED_MAX_AGE_S}"
    reaching_now = {"metric": "http.cached", "step": "10s"}
    assert get(client, reaching_now).headers["cache-control"] == "private, no-cache"


def test_large_answers_are_compressed_as_the_client_accepts(client: TestClient) -> None:
    plain = get(client, SETTLED, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 1024
    for accepted, coding, decode in [
        ("gzip, br", "br", brotli.decompress),
        ("br;q=0, gzip", "gzip", gzip.decompress),
        ("gzip;q=0.5", "gzip", gzip.decompress),
    ]:
        raw = client.get("/api/v1/query", params=SETTLED, headers={"Accept-Encoding": accepted})
        assert raw.headers["content-encoding"] == coding
        assert "Accept-Encoding" in raw.headers["vary"]
        assert raw.content == plain.content  # httpx decoded it
        assert int(raw.headers["content-length"]) < len(plain.content) // 4
        assert decode(_wire(client, accepted)) == plain.content


def _wire(client: TestClient, accepted: str, params: dict[str, Any] = SETTLED) -> bytes:
    """The compressed body as sent (httpx decodes ``response.content``)."""
    with client.stream("GET", "/api/v1/query", params=params, headers={"Accept-Encoding": accepted}) as response:
        return b"".join(response.iter_raw())


def test_a_repeated_answer_is_compressed_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[str] = []

    def counting(body: bytes, coding: str) -> bytes:
        encoded.append(coding)
        return real(body, coding)

    real = httpcache._encode
    monkeypatch.setattr(httpcache, "_encode", counting)
    params = {**SETTLED, "stats": "p90,count"}  # an answer no other test asks for
    wires = [_wire(client, "br", params) for _ in range(3)]
    assert encoded == ["br"] and wires[0] == wires[1] == wires[2]
    assert _wire(client, "gzip", params) != wires[0] and encoded == ["br", "gzip"]
    # a large POST answer (a batch) is kept compressed by its hash as well
    batch = {"queries": [{**params, "stats": ["p90", "count"]}] * 2}
    sent = [client.post("/api/v1/query/batch", json=batch, headers={"Accept-Encoding": "br"}) for _ in range(3)]
    assert all(r.headers["content-encoding"] == "br" for r in sent) and sent[0].content == sent[2].content
    assert len(sent[0].content) >= 16 * 1024 and encoded == ["br", "gzip", "br"]


def test_small_answers_are_not_compressed(client: TestClient) -> None:
    small = get(
        client, {"metric": "nothing.here", "start": BASE_MS, "end": BASE_MS + 1_000}, **{"Accept-Encoding": "br"}
    )
    assert len(small.content) < 1024 and "content-encoding" not in small.headers


def test_server_timing_says_where_the_time_went(client: TestClient) -> None:
    fresh = get(client, {**SETTLED, "stats": "p90"})
    names = [part.split(";")[0] for part in fresh.headers["server-timing"].split(", ")]
    assert names == ["cache", "db", "app"]
    cached = get(client, {**SETTLED, "stats": "p90"})
    assert [part.split(";")[0] for part in cached.headers["server-timing"].split(", ")] == ["cache", "app"]


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0, gzip;q=1", "gzip"),
        ("*", "br"),
        ("*;q=0", None),
        ("br;q=x", None),
        ("GZIP", "gzip"),
        ("gzip;q=0, *", "br"),
    ],
)
def test_choose_encoding(header: str, coding: str | None) -> None:
    assert choose_encoding(header) == coding


def test_every_data_get_has_an_etag(client: TestClient) -> None:
    first = client.get("/api/v1/metrics", params={"start": BASE_MS, "end": BASE_MS + 600_000})
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    again = client.get(
        "/api/v1/metrics",
        params={"start": BASE_MS, "end": BASE_MS + 600_000},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304


def _streaming_app() -> Starlette:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"data: {i}\n\n".encode() * 500

    async def events(_: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def json_chunks(_: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/events", events), Route("/api/v1/chunked", json_chunks)])
    app.add_middleware(HttpCacheMiddleware, min_bytes=10)
    return app


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/chunked"])
def test_streamed_answers_pass_untouched(path: str) -> None:
    with TestClient(_streaming_app()) as streaming:
        response = streaming.get(path, headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers and "etag" not in response.headers
    assert response.content == b"".join(f"data: {i}\n\n".encode() * 500 for i in range(3))


def test_an_unchanged_answer_is_rendered_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[Any] = []

    def counting(content: Any) -> bytes:
        rendered.append(content)
        return real(content)

    real = render_json
    monkeypatch.setattr(query_module, "render_json", counting)
    params = {**SETTLED, "stats": "p999,count"}  # an answer no other test asks for
    first, again = get(client, params), get(client, params)
    assert first.status_code == again.status_code == 200
    batch = client.post("/api/v1/query/batch", json={"queries": [{**params, "stats": ["p999", "count"]}]})
    assert len(rendered) == 1 and first.content == again.content
    assert first.headers["etag"] == again.headers["etag"] == etag_of(first.content)
    assert batch.json()["results"][0]["result"] == first.json()  # the same body, inside the batch
    cell = StoredWindow("http.cached", "gateway", BASE_MS, 1_000, False)
    client.app.state.cache.invalidate([cell])  # type: ignore[attr-defined]  # a stored window: read again
    changed = get(client, params)
    assert len(rendered) == 2 and changed.content == first.content


def test_a_current_answer_is_given_again_without_the_route(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = count_query_runs(monkeypatch)
    params = {**SETTLED, "stats": "p95,p999"}  # an answer no other test asks for
    first = get(client, params, **{"Accept-Encoding": "identity"})
    again = get(client, params, **{"Accept-Encoding": "gzip"})
    unchanged = get(client, params, **{"If-None-Match": first.headers["etag"]})
    assert len(ran) == 1 and first.status_code == again.status_code == 200
    assert again.headers["content-encoding"] == "gzip" and again.content == first.content
    assert again.headers["etag"] == first.headers["etag"] and unchanged.status_code == 304
    assert get(client, {**params, "group_by": ""}).status_code == 200 and len(ran) == 2  # another request
    cell = StoredWindow("other.metric", "gateway", BASE_MS, 1_000, False)
    client.app.state.cache.invalidate([cell])  # type: ignore[attr-defined]  # any window heard: the route again
    assert get(client, params).content == first.content and len(ran) == 3
