"""Queries that ask too much, through the real HTTP API on a real chDB store: a range, a step or a
number of series past the bounds of one request gets 400 naming the bound and the value, and the API
goes on answering."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.params import MAX_RANGE_MS
from storage.queries import MAX_POINTS, MAX_SERIES
from tests.api.apps import app_store, assert_error_shape
from tests.storage.builders import BASE_MS, insert_rows, window_row

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000


def bad(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert_error_shape(body)
    return body


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/query", {"metric": "m"}),
        ("/api/v1/services", {}),
        ("/api/v1/metrics", {}),
        ("/api/v1/traces", {}),
        ("/api/v1/logs", {}),
        ("/api/v1/dependencies", {}),
    ],
)
def test_a_range_past_the_bound_is_refused_naming_it(client: TestClient, path: str, params: dict[str, str]) -> None:
    end = BASE_MS
    body = bad(client, path, **params, start=end - MAX_RANGE_MS - 1, end=end)
    assert body["details"] == [
        {"loc": "query.start", "msg": "the range is 400.0 days long, the limit is 400 days (range bound)"}
    ]
    assert client.get(path, params={**params, "start": end - MAX_RANGE_MS, "end": end}).status_code == 200


def test_buckets_past_the_bound_are_refused_naming_the_step(client: TestClient) -> None:
    body = bad(client, "/api/v1/query", metric="m", start=BASE_MS - DAY_MS, end=BASE_MS, step="1s")
    assert body["details"][0]["loc"] == "query.step" and "more than 11000 points" in body["details"][0]["msg"]


def test_more_series_than_the_bound_is_refused_naming_it(client: TestClient) -> None:
    metric = "hostile.many.series"
    rows = [window_row([1.0], name=metric, labels={"user": f"u{i}"}) for i in range(MAX_SERIES + 1)]
    insert_rows(app_store(client), rows)
    params = {"metric": metric, "start": BASE_MS, "end": BASE_MS + 60_000, "stats": "count"}
    body = bad(client, "/api/v1/query", **params, group_by="user")
    assert body["error"] == "query too large"
    (detail,) = body["details"]
    assert detail["loc"] == "query.series"
    assert f"more than {MAX_SERIES} buckets (1 per group)" in detail["msg"]
    assert f"the limits are {MAX_SERIES} groups and {MAX_POINTS} buckets" in detail["msg"]
    # the same rows in fewer groups are answered: the bound is on the answer, not the data
    answered = client.get("/api/v1/query", params=params)
    assert answered.status_code == 200
    assert answered.json()["series"][0]["points"][0]["count"] == MAX_SERIES + 1


def test_series_at_the_bound_are_answered(client: TestClient) -> None:
    metric = "hostile.series.at.bound"
    insert_rows(app_store(client), [window_row([2.0], name=metric, labels={"k": f"v{i}"}) for i in range(MAX_SERIES)])
    params = {"metric": metric, "start": BASE_MS, "end": BASE_MS + 60_000, "stats": "count", "group_by": "k"}
    response = client.get("/api/v1/query", params=params)
    assert response.status_code == 200, response.text
    assert len(response.json()["series"]) == MAX_SERIES


def test_a_step_padded_with_spaces_is_refused(client: TestClient) -> None:
    """20,000 spaces, about what a URL holds (the former pattern spent 1.3 s on 16,000: quadratic;
    tests/api/test_params.py reads a million)."""
    body = bad(client, "/api/v1/query", metric="m", step="1" + " " * 20_000 + "x")
    assert body["details"][0]["loc"] == "query.step" and "cannot read duration" in body["details"][0]["msg"]
