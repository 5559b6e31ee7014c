"""``GET /api/v1/logs`` over the real app: filters, words, trace correlation, cursors, errors, and
records sent to Kafka stored by the app's sink, redacted. Each test reads its own 10-minute slice."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cursor import encode_cursor
from perfpulse.settings import Settings
from schemas import LogLevel, encode_logs
from tests.api.apps import app_store, assert_error_shape
from tests.storage.builders import BASE_MS, SEEDED_PARTITION
from tests.storage.telemetry import MS, insert_logs, log, trace_id
from tests.storage.test_sink import produce

SLICE_MS = 600_000


def base_ns(slice_index: int) -> int:
    return (BASE_MS + slice_index * SLICE_MS) * MS


def search(client: TestClient, slice_index: int, **params: Any) -> Any:
    start = BASE_MS + slice_index * SLICE_MS
    response = client.get("/api/v1/logs", params={"start": start, "end": start + SLICE_MS, **params})
    assert response.status_code == 200, response.text
    return response.json()


def messages(client: TestClient, slice_index: int, **params: Any) -> list[str]:
    return [entry["message"] for entry in search(client, slice_index, **params)["logs"]]


def test_filters_words_and_trace_correlation(client: TestClient) -> None:
    base = base_ns(1)
    insert_logs(app_store(client), [
        log(0, "GET /cart 200", service="frontend", base_ns=base),
        log(5, "Payment declined: card expired", service="payments", level=LogLevel.ERROR, trace=11, base_ns=base),
        log(9, "retrying payment", service="payments", level=LogLevel.WARN, trace=11, base_ns=base),
    ])  # fmt: skip
    assert messages(client, 1) == ["retrying payment", "Payment declined: card expired", "GET /cart 200"]
    assert messages(client, 1, service="payments,checkout", level="ERROR") == ["Payment declined: card expired"]
    assert messages(client, 1, q="payment DECLINED") == ["Payment declined: card expired"]
    assert messages(client, 1, q="pay") == []  # words, not substrings
    assert messages(client, 1, trace_id=trace_id(11).upper()) == ["retrying payment", "Payment declined: card expired"]
    [entry] = search(client, 1, q="cart")["logs"]
    assert entry == {
        "ts": (BASE_MS + SLICE_MS) * 1.0,
        "service": "frontend",
        "level": "info",
        "message": "GET /cart 200",
        "attributes": {},
        "trace_id": None,
        "span_id": None,
    }


def test_cursors_page_through_every_record_once(client: TestClient) -> None:
    for offset in range(3):
        records = [log(offset + i // 5, f"m{offset}-{i}", base_ns=base_ns(2)) for i in range(20)]
        insert_logs(app_store(client), records, partition=SEEDED_PARTITION + offset, offset=offset)
    everything = messages(client, 2, limit=1_000)
    assert len(everything) == 60
    seen: list[str] = []
    cursor = None
    while True:
        body = search(client, 2, limit=7, **({"cursor": cursor} if cursor else {}))
        seen.extend(entry["message"] for entry in body["logs"])
        if (cursor := body["next_cursor"]) is None:
            break
    assert seen == everything


def test_a_traces_cursor_is_no_logs_cursor(client: TestClient) -> None:
    response = client.get("/api/v1/logs", params={"cursor": encode_cursor("traces", (1, trace_id(1)))})
    assert response.status_code == 400
    assert_error_shape(response.json(), "query.cursor")


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"level": "loud"}, "query.level"),
        ({"q": " -- "}, "query.q"),
        ({"trace_id": "abc"}, "query.trace_id"),
        ({"cursor": "e30"}, "query.cursor"),
        ({"limit": 1_001}, "query.limit"),
        ({"start": "2", "end": "1"}, "query.start"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, params: dict[str, Any], loc: str) -> None:
    response = client.get("/api/v1/logs", params=params)
    assert response.status_code == 400, response.text
    assert_error_shape(response.json(), loc)


def test_records_sent_to_kafka_are_stored_by_the_sink_redacted(client: TestClient, module_settings: Settings) -> None:
    records = [
        log(1, "login ok password=hunter2", service="auth", attributes={"api_key": "k-123"}, base_ns=base_ns(3)),
        log(2, "logout", service="auth", base_ns=base_ns(3)),
    ]
    asyncio.run(produce(module_settings.kafka_bootstrap, [(module_settings.topics.logs, 0, encode_logs(records))]))
    deadline = time.monotonic() + 30
    while len(found := search(client, 3, service="auth")["logs"]) < 2:
        assert time.monotonic() < deadline, "the sink did not store the records"
        time.sleep(0.2)
    assert [(e["message"], e["attributes"]) for e in found] == [
        ("logout", {}),
        ("login ok password=[REDACTED]", {"api_key": "[REDACTED]"}),
    ]
