"""``POST /api/v1/query/batch`` over the real app and store: results in the order of the queries,
each the answer GET gives for the same parameters, an invalid query its own error beside the
others' results, and a body that is not a batch refused whole."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.batch import BatchQuery, _items
from perfpulse.settings import Settings
from tests.api.apps import app_store, assert_error_shape, running_app
from tests.storage.builders import BASE_MS, insert_rows, window_row

END_MS = BASE_MS + 120_000


def batch(client: TestClient, queries: list[dict[str, Any]]) -> Any:
    response = client.post("/api/v1/query/batch", json={"queries": queries})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def get(client: TestClient, **params: Any) -> Any:
    response = client.get("/api/v1/query", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module", autouse=True)
def rows(client: TestClient) -> None:
    insert_rows(
        app_store(client),
        [
            window_row([1.0, 2.0, 3.0], name="batch.a", window_start_ms=BASE_MS + 1_000),
            window_row([5.0], name="batch.a", service="checkout", window_start_ms=BASE_MS + 2_000),
            window_row([7.0, 9.0], name="batch.b", labels={"route": "/x"}, window_start_ms=BASE_MS + 70_000),
        ],
    )


def test_results_come_in_order_each_as_get_answers_it(client: TestClient) -> None:
    queries = [
        {"metric": "batch.b", "start": BASE_MS, "end": END_MS, "step": "10s", "labels": {"route": "/x"}},
        {"metric": "batch.a", "start": BASE_MS, "end": END_MS, "stats": ["p50", "max", "count"]},
        {"metric": "batch.a", "start": BASE_MS, "end": END_MS, "service": ["checkout"], "group_by": []},
    ]
    results = batch(client, queries)
    assert [r["status"] for r in results] == [200, 200, 200]
    expected = [
        get(client, metric="batch.b", start=BASE_MS, end=END_MS, step="10s", **{"label.route": "/x"}),
        get(client, metric="batch.a", start=BASE_MS, end=END_MS, stats="p50,max,count"),
        get(client, metric="batch.a", start=BASE_MS, end=END_MS, service="checkout", group_by=""),
    ]
    assert [r["result"] for r in results] == expected
    assert [s["group"]["service"] for s in results[1]["result"]["series"]] == ["checkout", "gateway"]
    assert results[2]["result"]["series"][0]["points"][0]["count"] == 1


def test_an_invalid_query_is_its_own_error_and_the_others_are_answered(client: TestClient) -> None:
    results = batch(
        client,
        [
            {"metric": "batch.a", "start": BASE_MS, "end": END_MS, "step": "1500ms"},
            {"metric": "batch.a", "start": BASE_MS, "end": END_MS, "stats": ["count"]},
            {"metric": "batch.a", "start": END_MS, "end": BASE_MS},
            {"metric": "batch.a", "start": BASE_MS, "end": END_MS, "labels": {"1x": "v"}},
        ],
    )
    assert [r["status"] for r in results] == [400, 200, 400, 400]
    assert [sorted(r) for r in results] == [["error", "status"], ["result", "status"], *[["error", "status"]] * 2]
    assert_error_shape(results[0]["error"], "query.step")
    assert_error_shape(results[2]["error"], "query.start")
    assert_error_shape(results[3]["error"], "query.label.1x")
    assert [s["points"][0]["count"] for s in results[1]["result"]["series"]] == [1, 3]  # checkout, gateway


def _at_first_step(app: TestClient, queries: list[dict[str, Any]]) -> list[Any] | None:
    """The items of ``queries`` when the batch completes at its first step (nothing awaited), else None."""
    run = _items(app.app.state.api, app.app.state.cache, [BatchQuery(**q) for q in queries])  # type: ignore[attr-defined]
    try:
        run.send(None)  # a coroutine that awaits something yields here instead
    except StopIteration as done:
        return [orjson.loads(rendered.body) for rendered, _ in done.value]
    except RuntimeError:  # it reached for a running event loop: it had a read to run
        return None
    run.close()
    return None


def test_a_batch_whose_answers_are_kept_is_answered_without_waiting(
    client: TestClient, module_settings: Settings
) -> None:
    """Answers the cache holds whole (asked before, nothing stored since, the same window period)
    and refusals are items at once: the batch completes at its first step, no task or read awaited."""
    # 60 s windows, so a window period (a kept answer's life) outlasts the test
    settings = module_settings.model_copy(
        update={"window": "60s", "ingest_transactional_id": f"{module_settings.transactional_id}-batch"}
    )
    queries = [
        {"metric": "batch.a", "start": BASE_MS, "end": END_MS, "step": "60s"},
        {"metric": "batch.b", "start": BASE_MS, "end": END_MS, "stats": ["p99", "count"], "group_by": []},
    ]
    refused = {"metric": "batch.a", "start": END_MS, "end": BASE_MS}
    with running_app(settings, with_sink=False, with_notifier=False) as app:
        cache = app.app.state.cache  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while not cache.hearing:  # answers are kept while the cache hears of stored windows
            assert time.monotonic() < deadline, "the cache never subscribed"
            time.sleep(0.05)
        for _ in range(2):  # a window boundary may pass once between asking and asking again
            period = time.time() // 60
            first = batch(app, queries)
            items = _at_first_step(app, [*queries, refused])
            if time.time() // 60 == period:
                break
    assert items is not None and items[:2] == first
    assert items[2]["status"] == 400
    assert_error_shape(items[2]["error"], "query.start")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"queries": []}, "body.queries"),
        ({"queries": [{"metric": "batch.a"}] * 51}, "body.queries"),
        ({"queries": [{"metric": ""}]}, "body.queries.0.metric"),
        ({"queries": [{"metric": "batch.a", "stats": "p50"}]}, "body.queries.0.stats"),
        ({"queries": [{"metric": "batch.a", "colour": "red"}]}, "body.queries.0.colour"),
        ({"query": []}, "body.queries"),
    ],
)
def test_a_body_that_is_not_a_batch_is_a_400(client: TestClient, body: dict[str, Any], loc: str) -> None:
    response = client.post("/api/v1/query/batch", json=body)
    assert response.status_code == 400, response.text
    assert_error_shape(response.json(), loc)
