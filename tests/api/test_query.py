"""``GET /api/v1/query`` over the real app and store: parameter validation answers 400 in the one
error shape; results group, filter, bucket and aggregate the stored window rows exactly."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from schemas import MetricKind
from tests.api.apps import app_store, assert_error_shape
from tests.storage.builders import BASE_MS, insert_rows, window_row

END_MS = BASE_MS + 60_000


def query(client: TestClient, metric: str, **params: Any) -> Any:
    params.setdefault("start", BASE_MS)
    params.setdefault("end", END_MS)
    response = client.get("/api/v1/query", params={"metric": metric, **params})
    assert response.status_code == 200, response.text
    return response.json()


def bad_query(client: TestClient, loc: str, **params: Any) -> Any:
    response = client.get("/api/v1/query", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert_error_shape(body, loc)
    return body


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"stats": "p50,p42"}, "query.stats"),
        ({"stats": ","}, "query.stats"),
        ({"step": "soon"}, "query.step"),
        ({"step": "0s"}, "query.step"),
        ({"step": "1500ms"}, "query.step"),  # not a multiple of the 1 s window
        ({"step": "1s", "start": BASE_MS, "end": BASE_MS + 4 * 3_600_000}, "query.step"),  # 14,400 points
        ({"start": END_MS, "end": BASE_MS}, "query.start"),
        ({"start": BASE_MS, "end": BASE_MS}, "query.start"),
        ({"start": "yesterday"}, "query.start"),
        ({"end": "2024-13-01T00:00:00Z"}, "query.end"),
        ({"label.1x": "v"}, "query.label.1x"),
        ({"label.": "v"}, "query.label."),
        ({"group_by": "service,has space"}, "query.group_by"),
    ],
)
def test_invalid_parameter_is_a_400_naming_it(client: TestClient, params: dict[str, Any], loc: str) -> None:
    params = {"metric": "http.server.duration", "start": BASE_MS, "end": END_MS, **params}
    body = bad_query(client, loc, **params)
    assert body["error"] == f"invalid query parameter {loc.removeprefix('query.')!r}"


def test_step_messages_say_what_to_change(client: TestClient) -> None:
    body = bad_query(client, "query.step", metric="x", step="1500ms", start=BASE_MS, end=END_MS)
    assert "not a multiple of the 1000 ms window" in body["details"][0]["msg"]
    body = bad_query(client, "query.step", metric="x", step="1s", start=BASE_MS, end=BASE_MS + 4 * 3_600_000)
    assert "use a larger step" in body["details"][0]["msg"]


def test_step_at_the_point_limit_is_accepted(client: TestClient) -> None:
    assert query(client, "nothing.here", step="1s", end=BASE_MS + 11_000_000)["series"] == []


def test_missing_metric_is_a_400_not_a_422(client: TestClient) -> None:
    body = bad_query(client, "query.metric", start=BASE_MS, end=END_MS)
    assert body["error"] == "invalid request"


def test_percentiles_of_a_counter_are_refused(client: TestClient) -> None:
    insert_rows(app_store(client), [window_row([1.0, 2.0], name="q.counter.refused", kind=MetricKind.COUNTER)])
    body = bad_query(client, "query.stats", metric="q.counter.refused", stats="p99,rate", start=BASE_MS, end=END_MS)
    assert "is a counter" in body["details"][0]["msg"]
    assert query(client, "q.counter.refused", stats="rate,sum,count")["series"]


def test_unknown_metric_gives_no_series(client: TestClient) -> None:
    body = query(client, "no.such.metric")
    assert body == {"metric": "no.such.metric", "start": BASE_MS, "end": END_MS, "step_ms": None, "series": []}


def test_default_grouping_is_by_service_with_exact_aggregates(client: TestClient) -> None:
    metric = "q.by.service"
    insert_rows(
        app_store(client),
        [
            window_row([1.0, 2.0, 3.0], name=metric),
            window_row([10.0], name=metric, window_start_ms=BASE_MS + 1_000),
            window_row([4.0, 8.0], name=metric, service="frontend"),
        ],
    )
    body = query(client, metric, stats="count,sum,min,max,avg,rate")
    assert body["step_ms"] is None
    assert body["series"] == [
        {
            "group": {"service": "frontend"},
            "points": [{"t": BASE_MS, "count": 2, "sum": 12.0, "min": 4.0, "max": 8.0, "avg": 6.0, "rate": 2 / 60}],
        },
        {
            "group": {"service": "gateway"},
            "points": [{"t": BASE_MS, "count": 4, "sum": 16.0, "min": 1.0, "max": 10.0, "avg": 4.0, "rate": 4 / 60}],
        },
    ]


def test_group_by_a_label_or_nothing(client: TestClient) -> None:
    metric = "q.by.label"
    insert_rows(
        app_store(client),
        [
            window_row([1.0], name=metric, labels={"route": "/a"}),
            window_row([2.0, 3.0], name=metric, labels={"route": "/b"}),
            window_row([4.0], name=metric, labels={"route": "/a"}, service="frontend"),
        ],
    )
    by_route = query(client, metric, stats="count", group_by="route")["series"]
    assert {s["group"]["route"]: s["points"][0]["count"] for s in by_route} == {"/a": 2, "/b": 2}
    by_both = query(client, metric, stats="count", group_by="service,route")["series"]
    assert [s["group"] for s in by_both] == [
        {"service": "frontend", "route": "/a"},
        {"service": "gateway", "route": "/a"},
        {"service": "gateway", "route": "/b"},
    ]
    [single] = query(client, metric, stats="count,sum", group_by="")["series"]
    assert single == {"group": {}, "points": [{"t": BASE_MS, "count": 4, "sum": 10.0}]}


def test_label_and_service_filters(client: TestClient) -> None:
    metric = "q.filters"
    insert_rows(
        app_store(client),
        [
            window_row([1.0], name=metric, labels={"route": "/a", "status_code": "200"}),
            window_row([2.0], name=metric, labels={"route": "/a", "status_code": "500"}),
            window_row([4.0], name=metric, labels={"route": "/b", "status_code": "500"}),
            window_row([8.0], name=metric, labels={"route": "/a", "status_code": "500"}, service="frontend"),
            window_row([16.0], name=metric, service="orchestrator"),
        ],
    )
    params = {"label.route": "/a", "label.status_code": "500", "group_by": "", "stats": "sum"}
    assert query(client, metric, **params)["series"][0]["points"][0]["sum"] == 10.0
    services = query(client, metric, service="gateway,orchestrator", group_by="service", stats="sum")["series"]
    assert {s["group"]["service"]: s["points"][0]["sum"] for s in services} == {"gateway": 7.0, "orchestrator": 16.0}


def test_steps_give_epoch_aligned_buckets_with_per_step_rates(client: TestClient) -> None:
    metric = "q.steps"
    insert_rows(
        app_store(client), [window_row([float(i)], name=metric, window_start_ms=BASE_MS + i * 1_000) for i in range(25)]
    )
    body = query(client, metric, start=BASE_MS + 3_000, end=BASE_MS + 25_000, step="10s", stats="count,min,rate")
    assert body["step_ms"] == 10_000
    [series] = body["series"]
    assert series["points"] == [
        {"t": BASE_MS, "count": 7, "min": 3.0, "rate": 0.7},
        {"t": BASE_MS + 10_000, "count": 10, "min": 10.0, "rate": 1.0},
        {"t": BASE_MS + 20_000, "count": 5, "min": 20.0, "rate": 0.5},
    ]


def test_rate_of_a_counter_is_its_sum_per_second(client: TestClient) -> None:
    metric = "q.counter.rate"
    insert_rows(
        app_store(client),
        [
            window_row([5.0, 5.0], name=metric, kind=MetricKind.COUNTER),
            window_row([20.0], name=metric, kind=MetricKind.COUNTER, window_start_ms=BASE_MS + 2_000),
        ],
    )
    [series] = query(client, metric, stats="rate,count,sum", end=BASE_MS + 10_000)["series"]
    assert series["points"] == [{"t": BASE_MS, "rate": 3.0, "count": 3, "sum": 30.0}]


def test_percentiles_merge_every_window_of_the_range(client: TestClient) -> None:
    metric = "q.percentiles"
    rng = np.random.default_rng(3)
    windows = [rng.lognormal(3.0, 0.5, 300) for _ in range(10)]
    insert_rows(
        app_store(client),
        [window_row(v, name=metric, window_start_ms=BASE_MS + i * 1_000) for i, v in enumerate(windows)],
    )
    [series] = query(client, metric, stats="p50,p90,p99,count,max")["series"]
    [point] = series["points"]
    every = np.concatenate(windows)
    assert point["count"] == 3_000 and point["max"] == every.max()
    for stat, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert point[stat] == pytest.approx(np.percentile(every, q), rel=0.01), stat


def test_stats_come_back_in_the_order_asked(client: TestClient) -> None:
    insert_rows(app_store(client), [window_row([1.0, 3.0], name="q.order")])
    [series] = query(client, "q.order", stats="max,count,p50,min")["series"]
    assert list(series["points"][0]) == ["t", "max", "count", "p50", "min"]


def test_rfc3339_range_is_accepted(client: TestClient) -> None:
    insert_rows(app_store(client), [window_row([7.0], name="q.rfc3339")])
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_MS / 1000))
    body = query(client, "q.rfc3339", start=start, end=f"{END_MS}", stats="sum")
    assert body["start"] == BASE_MS and body["series"][0]["points"][0]["sum"] == 7.0


def test_default_range_is_the_last_hour(client: TestClient) -> None:
    metric = "q.default.range"
    recent = (time.time_ns() // 1_000_000 // 1_000 - 1_800) * 1_000  # 30 minutes ago, window-aligned
    insert_rows(
        app_store(client),
        [
            window_row([1.0], name=metric, window_start_ms=recent),
            window_row([100.0], name=metric, window_start_ms=recent - 3_600_000),
        ],
    )
    response = client.get("/api/v1/query", params={"metric": metric, "stats": "sum"})
    body = response.json()
    assert body["end"] - body["start"] == 3_600_000
    assert body["series"][0]["points"][0]["sum"] == 1.0
