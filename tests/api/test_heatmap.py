"""``GET /api/v1/heatmap`` over the real app and store: the counts are the stored observations
regrouped (they sum to the query API's count, per time bucket too), filters and steps apply, work is
bounded, and bad parameters are 400s naming them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.heatmap import DEFAULT_COLUMNS, MAX_COLUMNS, default_step_ms
from api.models import HeatmapResult
from tests.api.apps import app_store, assert_error_shape
from tests.storage.builders import BASE_MS, insert_rows, window_row

METRIC = "hm.duration"
END_MS = BASE_MS + 60_000


@pytest.fixture(scope="module")
def seeded(client: TestClient) -> TestClient:
    rng = np.random.default_rng(11)
    rows = []
    for i in range(12):
        rows.append(window_row(rng.lognormal(3.5, 1.0, 100 + 10 * i), name=METRIC, window_start_ms=BASE_MS + i * 5_000,
                               labels={"route": "/a" if i % 2 else "/b"}))  # fmt: skip
        rows.append(window_row(rng.lognormal(2.0, 0.5, 30), name=METRIC, service="frontend",
                               window_start_ms=BASE_MS + i * 5_000))  # fmt: skip
    insert_rows(app_store(client), rows)
    return client


def heatmap(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/heatmap", params={"metric": METRIC, "start": BASE_MS, "end": END_MS, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = HeatmapResult.model_validate(response.json()).model_dump()
    assert body == response.json()
    return body


def counts(client: TestClient, **params: Any) -> dict[int, int]:
    """What the query API counts per bucket for the same question."""
    response = client.get(
        "/api/v1/query",
        params={"metric": METRIC, "start": BASE_MS, "end": END_MS, "stats": "count", "group_by": "", **params},
    )
    assert response.status_code == 200, response.text
    return {p["t"]: p["count"] for s in response.json()["series"] for p in s["points"]}


def test_counts_sum_to_the_stored_counts_per_time_bucket(seeded: TestClient) -> None:
    body = heatmap(seeded, step="20s", buckets=25)
    stored = counts(seeded, step="20s")
    assert body["times"] == sorted(stored) == [BASE_MS, BASE_MS + 20_000, BASE_MS + 40_000]
    assert [sum(row) for row in body["counts"]] == [stored[t] for t in body["times"]]
    assert body["total"] == sum(stored.values()) == sum(100 + 10 * i + 30 for i in range(12))
    assert 2 <= len(body["edges"]) - 1 <= 25 and all(len(row) == len(body["edges"]) - 1 for row in body["counts"])
    assert body["edges"] == sorted(body["edges"]) and body["step_ms"] == 20_000


def test_services_and_labels_filter(seeded: TestClient) -> None:
    frontend = heatmap(seeded, service="frontend")
    assert frontend["total"] == 12 * 30 == sum(counts(seeded, service="frontend").values())
    route = heatmap(seeded, **{"label.route": "/a", "service": "gateway"})
    assert route["total"] == sum(100 + 10 * i for i in range(1, 12, 2))
    # frontend's durations (lognormal around e**2 ms) sit lower than gateway's (around e**3.5 ms)
    gateway = heatmap(seeded, service="gateway")
    assert np.average(frontend["edges"][:-1], weights=np.sum(frontend["counts"], axis=0)) < np.average(
        gateway["edges"][:-1], weights=np.sum(gateway["counts"], axis=0)
    )


def test_default_step_gives_at_most_the_default_columns(seeded: TestClient) -> None:
    body = heatmap(seeded, start=BASE_MS, end=BASE_MS + 3_600_000)
    assert body["step_ms"] == 30_000 and (3_600_000 // body["step_ms"]) <= DEFAULT_COLUMNS
    assert body["total"] == sum(counts(seeded).values())


def test_default_steps_are_round_multiples_of_the_window() -> None:
    assert default_step_ms(60_000, 1_000) == 1_000
    assert default_step_ms(900_000, 1_000) == 10_000
    assert default_step_ms(7 * 86_400_000, 1_000) == 7_200_000  # 84 buckets
    assert default_step_ms(60_000, 10_000) == 10_000
    assert default_step_ms(90 * 86_400_000, 1_000) == 86_400_000
    assert default_step_ms(365 * 86_400_000, 1_000) == 4 * 86_400_000


def test_nothing_stored_is_an_empty_heatmap(seeded: TestClient) -> None:
    body = heatmap(seeded, metric="hm.nothing")
    assert (body["times"], body["edges"], body["counts"], body["total"]) == ([], [], [], 0)


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"buckets": 1}, "query.buckets"),
        ({"buckets": 101}, "query.buckets"),
        ({"step": "1500ms"}, "query.step"),
        ({"step": "soon"}, "query.step"),
        ({"step": "1s", "end": BASE_MS + (MAX_COLUMNS + 1) * 1_000}, "query.step"),
        ({"start": END_MS, "end": BASE_MS}, "query.start"),
        ({"label.1x": "v"}, "query.label.1x"),
        ({"metric": ""}, "query.metric"),
    ],
)
def test_invalid_parameters_are_400s_naming_them(seeded: TestClient, params: dict[str, Any], loc: str) -> None:
    response = seeded.get("/api/v1/heatmap", params={"metric": METRIC, "start": BASE_MS, "end": END_MS, **params})
    assert response.status_code == 400, response.text
    assert_error_shape(response.json(), loc)


def test_the_largest_step_allowed_is_answered(seeded: TestClient) -> None:
    body = heatmap(seeded, step="1s", end=BASE_MS + MAX_COLUMNS * 1_000, buckets=100)
    assert body["total"] == sum(counts(seeded).values())
