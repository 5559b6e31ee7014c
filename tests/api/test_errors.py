"""Every API error, FastAPI's own included, answers in the one JSON shape ``{"error", "details"}``."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.errors import ApiError
from tests.api.apps import assert_error_shape


def test_bad_param_names_the_query_parameter() -> None:
    error = ApiError.bad_param("step", "too small")
    assert (error.status, error.error, error.details) == (
        400,
        "invalid query parameter 'step'",
        [{"loc": "query.step", "msg": "too small"}],
    )


def test_api_error_without_details_has_an_empty_list() -> None:
    assert ApiError(409, "conflict").details == []


def test_request_validation_is_a_400_with_field_locations(client: TestClient) -> None:
    response = client.get("/api/v1/query", params={"metric": ""})  # min_length=1
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body, "query.metric")
    assert body["error"] == "invalid request"


def test_unknown_route_is_a_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "details": []}


def test_wrong_method_is_a_405_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/ingest/metrics")
    assert response.status_code == 405
    assert_error_shape(response.json())
    assert "POST" in response.headers["allow"]
