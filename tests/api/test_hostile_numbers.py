"""Numbers at the edges and malformed JSON through the real HTTP API (app on a real chDB store and
Kafka): times, steps, durations and thresholds past what a 64-bit store holds, infinities, NaN, lone
surrogates and deep nesting get a 4xx with a reason, never a 5xx, and nothing of a refused body is
stored (Kafka topics, queued notifier commands, the rules file).

The fuzz test (hypothesis) puts one hostile JSON token into a valid body of every ingest envelope
(HTTP and OTLP JSON) and of the rules and silences bodies, in fields that take a number, a time or a text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfpulse.settings import DEFAULT_RULES, Settings
from storage.alerts import commands_since
from tests.api.apps import app_settings, app_store, assert_error_shape, new_topics, running_app

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}
HOLE = '"__HOSTILE__"'  # where a body template takes the hostile token

# Raw JSON tokens no field of ours may take: past int64, past float, NaN and infinities (not JSON,
# yet Python's json module reads them), lone surrogates, deep nesting, dates outside 1970..2262.
HOSTILE_TOKENS = [
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" + "0" * 30,
    "-1" + "0" * 30,
    "1" + "0" * 400,
    "1e308",
    "-1e308",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    '"\\ud800"',
    '"x\\udc00y"',
    '"\\udbff\\udbff"',
    '"9999999999999999999999999999999999999999"',
    '"-9999999999999999999999999999999999999999"',
    '"1' + "0" * 400 + '"',
    '"9999-12-31T23:59:59Z"',
    '"0001-01-01T00:00:00Z"',
    '"1e400"',
    '"NaN"',
    "[" * 2000 + "]" * 2000,
    '{"a":' * 2000 + "1" + "}" * 2000,
]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture(scope="module")
def rules_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-rules") / "alerts.yaml"
    path.write_text(DEFAULT_RULES.read_text())
    return path


@pytest.fixture(scope="module")
def app_settings_(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory, rules_path: Path
) -> Settings:
    data_dir = tmp_path_factory.mktemp("hostile-numbers") / "data"
    return app_settings(kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap), rules=rules_path)


@pytest.fixture(scope="module")
def client(app_settings_: Settings) -> Iterator[TestClient]:
    """No sink: what ingest accepted stays in Kafka, where the tests count it."""
    with running_app(app_settings_, with_sink=False) as running:
        yield running


def kafka_records(settings: Settings) -> int:
    """Records in the metrics, spans and logs topics (sum of end offsets)."""
    topics = [settings.topics.metrics, settings.topics.spans, settings.topics.logs]

    async def count() -> int:
        consumer = AIOKafkaConsumer(*topics, bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            while not consumer.assignment():  # without a group, every partition is assigned
                await consumer.getmany(timeout_ms=100)
            return sum((await consumer.end_offsets(sorted(consumer.assignment()))).values())
        finally:
            await consumer.stop()

    return asyncio.run(count())


class Stored:
    """What a refused request must not change: Kafka records, queued notifier commands, rules file."""

    def __init__(self, client: TestClient, settings: Settings, rules_path: Path) -> None:
        self.client, self.settings, self.rules_path = client, settings, rules_path
        self.before = self.read()

    def read(self) -> tuple[int, int, bytes]:
        commands = len(commands_since(app_store(self.client), 0))
        return kafka_records(self.settings), commands, self.rules_path.read_bytes()

    def assert_unchanged(self) -> None:
        assert self.read() == self.before


@pytest.fixture
def stored(client: TestClient, app_settings_: Settings, rules_path: Path) -> Iterator[Stored]:
    state = Stored(client, app_settings_, rules_path)
    yield state
    state.assert_unchanged()


def refused(response: Any) -> dict[str, Any]:
    """A 4xx in the API's error shape (OTLP answers a google.rpc.Status: code and message)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    body: dict[str, Any] = response.json()
    if "code" in body:
        assert body["message"], body
    else:
        assert_error_shape(body)
        assert body["details"] or body["error"], body
    return body


# Tokens that no text field may take either (the quoted numbers and dates are valid text).
HOSTILE_TO_TEXT = [t for t in HOSTILE_TOKENS if not t.startswith('"') or "\\ud" in t]


# Valid bodies with one hole each: endpoint, body template (HOLE replaced by a hostile token), and
# whether the hole is a text field (else it takes a number, a time or a duration).
def _templates() -> list[tuple[str, str, bool]]:
    ts = now_ms()
    span = {"traceId": "a" * 32, "spanId": "b" * 16, "operationName": "op", "startTime": ts, "endTime": ts}
    metric = {"name": "m", "value": 1.5, "ts": ts}
    silence = {"matchers": 'service="a"', "duration": "1h", "comment": "c", "created_by": "me"}
    rule = {"name": "hostile_rule", "condition": "response_time.p95 > 100", "for": "1m"}
    otlp_span = {
        "traceId": "a" * 32,
        "spanId": "b" * 16,
        "name": "op",
        "startTimeUnixNano": str(ts * 1_000_000),
        "endTimeUnixNano": str(ts * 1_000_000),
    }
    otlp_log = {"timeUnixNano": str(ts * 1_000_000), "body": {"stringValue": "m"}}

    def otlp_gauge(hole: str) -> dict[str, Any]:
        point = {"timeUnixNano": str(ts * 1_000_000), "asDouble": 1.5, hole: "H"}
        return {"name": "m", "gauge": {"dataPoints": [point]}}

    cases: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/ingest/metrics", {"service": "a", "points": [{**metric, "ts": "H"}]}),
        ("/api/v1/ingest/metrics", {"service": "a", "points": [{**metric, "value": "H"}]}),
        ("/api/v1/ingest/metrics", {"service": "H", "points": [metric]}),
        ("/api/v1/ingest/metrics", {"service": "a", "points": [{**metric, "labels": {"k": "H"}}]}),
        ("/api/v1/ingest/spans", {"service": "a", "spans": [{**span, "startTime": "H"}]}),
        ("/api/v1/ingest/spans", {"service": "a", "spans": [{**span, "endTime": "H"}]}),
        ("/api/v1/ingest/spans", {"service": "a", "spans": [{**span, "logs": [{"timestamp": "H", "message": "m"}]}]}),
        ("/api/v1/ingest/spans", {"service": "a", "spans": [{**span, "operationName": "H"}]}),
        ("/api/v1/ingest/logs", {"service": "a", "logs": [{"ts": "H", "level": "info", "message": "m"}]}),
        ("/api/v1/ingest/logs", {"service": "a", "logs": [{"ts": ts, "level": "info", "message": "H"}]}),
        ("/v1/traces", {"resourceSpans": [{"scopeSpans": [{"spans": [{**otlp_span, "startTimeUnixNano": "H"}]}]}]}),
        ("/v1/traces", {"resourceSpans": [{"scopeSpans": [{"spans": [{**otlp_span, "endTimeUnixNano": "H"}]}]}]}),
        ("/v1/logs", {"resourceLogs": [{"scopeLogs": [{"logRecords": [{**otlp_log, "timeUnixNano": "H"}]}]}]}),
        ("/v1/metrics", {"resourceMetrics": [{"scopeMetrics": [{"metrics": [otlp_gauge("timeUnixNano")]}]}]}),
        ("/v1/metrics", {"resourceMetrics": [{"scopeMetrics": [{"metrics": [otlp_gauge("asDouble")]}]}]}),
        ("/api/v1/silences", {**silence, "starts_at": "H"}),
        ("/api/v1/silences", {**silence, "duration": None, "ends_at": "H"}),
        ("/api/v1/silences", {**silence, "duration": "H"}),
        ("/api/v1/silences", {**silence, "comment": "H"}),
        ("/api/v1/silences", {**silence, "matchers": [{"name": "service", "op": "=", "value": "H"}]}),
        ("/api/v1/rules", {**rule, "for": "H"}),
        ("/api/v1/rules", {**rule, "window": "H"}),
        ("/api/v1/rules", {**rule, "keep_firing_for": "H"}),
        ("/api/v1/rules", {**rule, "labels": {"team": "H"}}),
        ("/api/v1/rules/validate", {"rule": {**rule, "for": "H"}}),
    ]
    text_holes = {2, 3, 7, 9, 18, 19, 23}
    out = []
    for i, (url, body) in enumerate(cases):
        text = orjson.dumps({k: v for k, v in body.items() if v is not None}).decode()
        assert text.count('"H"') == 1, text
        out.append((url, text.replace('"H"', HOLE), i in text_holes))
    return out


TEMPLATES = _templates()
CASES = [
    (url, body.replace(HOLE, token))
    for url, body, text in TEMPLATES
    for token in (HOSTILE_TO_TEXT if text else HOSTILE_TOKENS)
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(CASES))
def test_a_hostile_token_in_any_field_is_refused_and_nothing_stored(
    client: TestClient, stored: Stored, case: tuple[str, str]
) -> None:
    url, body = case
    response = client.post(url, content=body, headers=JSON)
    if url.endswith("/validate") and response.status_code == 200:  # validation answers what it found
        assert response.json()["valid"] is False and response.json()["errors"], response.text
    elif url.startswith("/v1/") and response.status_code == 200:  # OTLP: a partial success, all refused
        rejected = response.json()["partialSuccess"]
        counts = [v for k, v in rejected.items() if k.startswith("rejected")]
        assert counts == ["1"] and rejected["errorMessage"], response.text
    else:
        refused(response)


def test_every_template_is_accepted_without_its_hostile_token(client: TestClient, rules_path: Path) -> None:
    """The templates are valid bodies (else the fuzz test would prove nothing): each one with a
    harmless value in its hole is accepted."""
    harmless = {
        "/api/v1/ingest/metrics": '"x"',
        "/api/v1/ingest/spans": '"x"',
        "/api/v1/ingest/logs": '"x"',
    }
    url, body, _ = TEMPLATES[3]  # a label value: any text goes
    assert client.post(url, content=body.replace(HOLE, harmless[url]), headers=JSON).status_code == 202
    url, body, _ = TEMPLATES[7]  # operationName
    assert client.post(url, content=body.replace(HOLE, '"op"'), headers=JSON).status_code == 202
    url, body, _ = TEMPLATES[9]  # a log message
    assert client.post(url, content=body.replace(HOLE, '"hello"'), headers=JSON).status_code == 202
    url, body, _ = TEMPLATES[18]  # a silence comment
    assert client.post(url, content=body.replace(HOLE, '"why"'), headers=JSON).status_code == 201
    url, body, _ = TEMPLATES[24]  # rule validation with a sound "for"
    assert client.post(url, content=body.replace(HOLE, '"5m"'), headers=JSON).status_code == 200


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("/api/v1/query?metric=m", "start", "-1" + "0" * 30),
        ("/api/v1/query?metric=m", "end", "9" * 40),
        ("/api/v1/query?metric=m", "end", "9999-12-31T23:59:59Z"),
        ("/api/v1/query?metric=m", "start", "0001-01-01T00:00:00Z"),
        ("/api/v1/query?metric=m", "step", "1" + "0" * 400),
        ("/api/v1/query?metric=m", "step", "1" + "0" * 30 + "d"),
        ("/api/v1/services", "end", "-5"),
        ("/api/v1/metrics", "start", "1" + "0" * 30),
        ("/api/v1/traces", "end", "9" * 40),
        ("/api/v1/traces", "min_duration_ms", "1e400"),
        ("/api/v1/traces", "max_duration_ms", "Infinity"),
        ("/api/v1/traces", "min_duration_ms", "NaN"),
        ("/api/v1/traces", "max_duration_ms", "1e300"),
        ("/api/v1/dependencies", "start", "-1" + "0" * 30),
        ("/api/v1/logs", "end", "-1" + "0" * 30),
        ("/api/v1/logs", "limit", "9" * 40),
        ("/api/v1/alerts/history", "since", "9" * 40),
        ("/api/v1/alerts/history", "until", "-1" + "0" * 30),
        ("/api/v1/alerts/history", "limit", "1e400"),
    ],
)
def test_query_parameters_past_the_store_get_400_naming_the_parameter(
    client: TestClient, path: str, param: str, value: str
) -> None:
    response = client.get(f"{path}{'&' if '?' in path else '?'}{param}={value}")
    body = refused(response)
    assert response.status_code in (400, 422), response.text
    assert any(param in d["loc"] for d in body["details"]), body


@pytest.mark.parametrize(
    "text",
    [
        b'{"service": "a", "points": [{"name": "m", "value": NaN}]}',
        b'{"service": "\\ud800", "points": [{"name": "m", "value": 1}]}',
        b'{"service": "\xed\xa0\x80", "points": [{"name": "m", "value": 1}]}',  # a surrogate as UTF-8 bytes
        b"[" * 100_000 + b"]" * 100_000,
        b'{"service": "a", "points": ' + b"[" * 1_500 + b"]" * 1_500 + b"}",
        b'{"resourceSpans": [{"scopeSpans": ' + b'[{"a": ' * 1_000 + b"1" + b"}]" * 1_000 + b"}]}",
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/ingest/metrics",
        "/api/v1/ingest/spans",
        "/api/v1/ingest/logs",
        "/v1/traces",
        "/v1/logs",
        "/v1/metrics",
        "/api/v1/silences",
        "/api/v1/rules",
    ],
)
def test_malformed_json_is_refused_with_a_reason(client: TestClient, stored: Stored, url: str, text: bytes) -> None:
    refused(client.post(url, content=text, headers=JSON))


@pytest.mark.parametrize(
    "condition",
    [
        "response_time.p95 > 1e400",
        "response_time.p95 < -1e400",
        "response_time.p95 > 1" + "0" * 400,
    ],
)
def test_a_threshold_past_a_float_is_refused_at_its_offset(client: TestClient, stored: Stored, condition: str) -> None:
    rule = {"name": "infinite_rule", "condition": condition}
    body = refused(client.post("/api/v1/rules", json=rule))
    assert "past the largest float" in body["details"][0]["msg"], body
    validation = client.post("/api/v1/rules/validate", json={"rule": rule}).json()
    assert validation["valid"] is False and "past the largest float" in str(validation["errors"]), validation
