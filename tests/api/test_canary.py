"""``POST /api/v1/canary`` over the real app and store: seeded versions with known regressions get
their verdicts, with the figures; bad requests get a 400 naming the field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.models_services import CanaryVerdict
from schemas import MetricKind
from tests.api.apps import app_store, assert_error_shape
from tests.storage.builders import BASE_MS, insert_rows, window_row

METRIC = "http.server.duration"
END = BASE_MS + 15 * 60_000


def seed(client: TestClient, service: str, *series: tuple[str, np.ndarray, str]) -> None:
    """Each (version, values, status_code) spread over 60 windows of the 15 minutes before END, in
    one insert (the tier copy of a seeded insert re-reads its whole key range)."""
    rows = [
        window_row(chunk, window_start_ms=BASE_MS + i * 15_000, service=service,
                   labels={"version": version, "status_code": status})
        for version, values, status in series
        for i, chunk in enumerate(np.array_split(values, 60))
    ]  # fmt: skip
    insert_rows(app_store(client), rows)


def ask(client: TestClient, service: str, baseline: str, candidate: str, **more: Any) -> dict[str, Any]:
    body = {"metric": METRIC, "baseline": {"version": baseline}, "candidate": {"version": candidate},
            "service": service, "window": "15m", "end": END, **more}  # fmt: skip
    response = client.post("/api/v1/canary", json=body)
    assert response.status_code == 200, response.text
    CanaryVerdict.model_validate_json(response.content, strict=True)
    answer: dict[str, Any] = response.json()
    return answer


def latencies(seed: int, n: int = 4_000) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(3.5, 0.6, n)


def test_a_ten_percent_p95_regression_fails(client: TestClient) -> None:
    base = latencies(1)
    seed(client, "checkout", ("1.4", base, "200"), ("1.5", base * 1.10, "200"))
    answer = ask(client, "checkout", "1.4", "1.5")
    assert answer["verdict"] == "fail", answer
    assert (answer["start"], answer["end"], answer["service"]) == (END - 900_000, END, "checkout")
    assert answer["baseline"]["count"] == answer["candidate"]["count"] == 4_000
    assert answer["baseline"]["labels"] == {"version": "1.4"}
    assert answer["baseline"]["p95"] == pytest.approx(np.quantile(base, 0.95, method="inverted_cdf"), rel=1e-3)
    assert answer["change"]["p95"] == pytest.approx(0.10, abs=0.002)
    assert answer["tests"]["ks_p_value"] < 1e-6 and answer["reasons"][0].startswith("p95 ")
    lenient = ask(client, "checkout", "1.4", "1.5", p95_threshold=0.2)
    assert lenient["verdict"] == "pass" and lenient["policy"]["p95_threshold"] == 0.2


def test_equal_distributions_pass(client: TestClient) -> None:
    seed(client, "search", ("2.0", latencies(2), "200"), ("2.1", latencies(3), "200"))
    answer = ask(client, "search", "2.0", "2.1")
    assert answer["verdict"] == "pass", answer
    assert abs(answer["change"]["p95"]) < 0.05 and answer["tests"]["ks_p_value"] > 0.01


def test_an_error_regression_fails(client: TestClient) -> None:
    seed(client, "cart", ("3.0", latencies(4), "200"), ("3.1", latencies(5), "200"), ("3.1", latencies(6, 120), "503"))
    answer = ask(client, "cart", "3.0", "3.1")
    assert answer["verdict"] == "fail" and answer["reasons"][0].startswith("error rate")
    assert (answer["candidate"]["errors"], answer["baseline"]["error_rate"]) == (120, 0.0)


def test_too_few_samples_get_no_verdict(client: TestClient) -> None:
    seed(client, "quotes", ("4.0", latencies(7), "200"), ("4.1", latencies(8, 60), "200"))
    answer = ask(client, "quotes", "4.0", "4.1")
    assert answer["verdict"] == "not-enough-data" and answer["tests"] is None
    assert answer["reasons"] == ["candidate has 60 observations, fewer than 100"]
    assert ask(client, "quotes", "4.0", "9.9")["candidate"]["count"] == 0  # a version never seen
    assert ask(client, "quotes", "4.0", "4.1", min_samples=50)["verdict"] in ("pass", "fail")


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"window": "nope"}, "body.window"),
        ({"window": "2d"}, "body.window"),
        ({"baseline": {}}, "body.baseline"),
        ({"baseline": {"version": ""}}, "body.baseline"),
        ({"end": "yesterday"}, "body.end"),
        ({"p95_threshold": 0}, "body.p95_threshold"),
        ({"colour": "red"}, "body.colour"),
        ({"service": ""}, "body.service"),
    ],
)
def test_bad_requests_name_the_field(client: TestClient, change: dict[str, Any], loc: str) -> None:
    body = {"metric": METRIC, "baseline": {"version": "1"}, "candidate": {"version": "2"}, **change}
    response = client.post("/api/v1/canary", json=body)
    assert response.status_code == 400, response.text
    assert_error_shape(response.json(), loc)


def test_a_counter_is_not_compared(client: TestClient) -> None:
    rows = [window_row([1.0, 1.0], window_start_ms=BASE_MS, name="jobs.done", kind=MetricKind.COUNTER,
                       labels={"version": v}) for v in ("1", "2")]  # fmt: skip
    insert_rows(app_store(client), rows)
    body = {"metric": "jobs.done", "baseline": {"version": "1"}, "candidate": {"version": "2"}, "end": END}
    response = client.post("/api/v1/canary", json=body)
    assert response.status_code == 400
    assert_error_shape(response.json(), "body.metric")
    assert "is a counter" in response.json()["details"][0]["msg"]
