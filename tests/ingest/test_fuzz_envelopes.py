"""Every ingest envelope fuzzed in one place, through the real HTTP app (real Kafka, real chDB):
the perfpulse JSON envelopes (metrics, spans, logs) and the OTLP requests (metrics, traces, logs;
protobuf, and JSON too), with generated hostile bodies: wrong types and shapes in place of any
field, numbers past 64 bits and past float, NaN and infinities, lone surrogates, deep nesting,
invalid UTF-8, truncated or bit-flipped protobuf, nested attribute values, random bytes, and gzip
bodies of many members, truncated or inflating past the limit.

Every answer is 2xx, or a 4xx with its reasons (perfpulse's error body naming each field, or OTLP's
``google.rpc.Status`` with a message), never a 5xx; ``/healthz`` answers after each body and no
ingest slot stays taken.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from ingest.receivers.inflate import MAX_GZIP_MEMBERS
from ingest.receivers.offload import IngestWorkers
from perfpulse.settings import Settings
from tests.api.apps import app_settings, assert_error_shape, new_topics, running_app
from tests.api.test_hostile_numbers import HOSTILE_TOKENS  # past int64 and float, NaN, surrogates, nesting

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
JSON = "application/json"
PROTOBUF = "application/x-protobuf"
# One gzip member inflating to 17 MiB of zeros (17 KiB sent): past the 16 MiB limit once inflated.
PAST_LIMIT_MEMBER = gzip.compress(b"0" * (17 * MIB), compresslevel=9)
EMPTY_MEMBER = gzip.compress(b"")
# One clock reading for every example: hypothesis replays a failing example byte for byte.
NOW_NS = time.time_ns()


@dataclass(frozen=True)
class Raw:
    """A JSON token written as is: what no JSON library of ours would write."""

    token: str


FIELD_NAMES = ["service", "points", "spans", "logs", "name", "value", "ts", "kind", "labels", "traceId", "spanId"]


def to_json(value: Any) -> str:
    """``value`` as JSON text, :class:`Raw` tokens as they are."""
    if isinstance(value, Raw):
        return value.token
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)  # floats NaN/inf come out as NaN/Infinity: hostile too


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),  # json.dumps escapes lone surrogates as \udxxx
    st.sampled_from(FIELD_NAMES),
    st.sampled_from(HOSTILE_TOKENS).map(Raw),
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(FIELD_NAMES), children, max_size=4)
    ),
    max_leaves=12,
)


def metrics_envelope(now_ms: int) -> dict[str, Any]:
    points = [{"name": "m", "value": 1.5, "ts": now_ms, "kind": "counter", "labels": {"route": "/a"}}] * 2
    return {"service": "fuzz", "labels": {"env": "test"}, "points": points}


def spans_envelope(now_ms: int) -> dict[str, Any]:
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "operationName": "GET /a",
        "startTime": now_ms - 5,
        "endTime": now_ms,
        "tags": {"http.status_code": "200"},
        "logs": [{"timestamp": now_ms - 1, "message": "m", "level": "info"}],
    }
    return {"service": "fuzz", "spans": [span]}


def logs_envelope(now_ms: int) -> dict[str, Any]:
    record = {"ts": now_ms, "level": "error", "message": "boom", "attributes": {"k": "v"}, "trace_id": "ab" * 16}
    return {"service": "fuzz", "logs": [record, record]}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a value sits."""
    found = [prefix]
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copy


@st.composite
def hostile_envelopes(draw: st.DrawFn, envelope: dict[str, Any]) -> bytes:
    """A valid envelope with up to three of its values (anywhere, the whole body included) replaced
    by hostile JSON values."""
    body: Any = envelope
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(body)))
        body = _replaced(body, path, draw(json_values))
    return to_json(body).encode()


def _attribute(key: str, value: AnyValue) -> KeyValue:
    attribute = KeyValue(key=key)
    attribute.value.CopyFrom(value)  # KeyValue(value=...) re-parses it, which fails past depth 100
    return attribute


def _with(attributes: Any, values: list[KeyValue]) -> None:
    """Fill a repeated ``KeyValue`` field (copies, for the same reason)."""
    for value in values:
        attributes.add().CopyFrom(value)


def _nested(depth: int) -> AnyValue:
    """An attribute value of arrays and key-value lists within each other, ``depth`` deep (past
    protobuf's decoding depth of 100 from about 50), built in place: a message built from a copy of
    one that deep could not be."""
    root = AnyValue()
    value = root
    for i in range(depth):
        value = value.array_value.values.add() if i % 2 else value.kvlist_value.values.add(key="k").value
    value.string_value = "bottom"
    return root


@st.composite
def otlp_requests(draw: st.DrawFn, signal: str) -> bytes:
    """A protobuf OTLP request of ``signal`` whose numbers and attributes are drawn at the edges."""
    now_ns = NOW_NS
    number = draw(st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e308, -1e308]))
    big = draw(st.integers(0, 2**64 - 1))
    stamp = draw(st.sampled_from([now_ns, 0, 2**64 - 1, 2**63, now_ns + 10**18]) | st.integers(0, 2**64 - 1))
    attributes = [
        _attribute(draw(st.text(max_size=20)), AnyValue(string_value=draw(st.text(max_size=60)))),
        _attribute("nested", _nested(draw(st.integers(0, 150)))),
        _attribute("number", AnyValue(double_value=number)),
        _attribute("int", AnyValue(int_value=big - 2**63)),
    ]
    message: Message
    if signal == "metrics":
        message = ExportMetricsServiceRequest()
        resource_metrics = message.resource_metrics.add()
        _with(resource_metrics.resource.attributes, attributes)
        scope = resource_metrics.scope_metrics.add()
        gauge = scope.metrics.add(name=draw(st.text(max_size=30) | st.just("m")))
        _with(gauge.gauge.data_points.add(as_double=number, time_unix_nano=stamp).attributes, attributes)
        total = scope.metrics.add(name="sum")
        total.sum.is_monotonic = True
        temporality = draw(st.sampled_from(list(AggregationTemporality.values())) | st.integers(-5, 50))
        total.sum.aggregation_temporality = AggregationTemporality.ValueType(temporality)
        total.sum.data_points.add(as_int=big - 2**63, start_time_unix_nano=stamp, time_unix_nano=stamp)
        histogram = scope.metrics.add(name="h").histogram
        histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        bounds = draw(st.lists(st.floats(allow_nan=True), max_size=6))
        counts = draw(st.lists(st.integers(0, 2**64 - 1), max_size=8))
        histogram.data_points.add(explicit_bounds=bounds, bucket_counts=counts, count=big, time_unix_nano=stamp)
        exponential = scope.metrics.add(name="e").exponential_histogram
        exponential.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        point = exponential.data_points.add(scale=draw(st.integers(-(2**31), 2**31 - 1)), zero_count=big)
        point.positive.offset = draw(st.integers(-(2**31), 2**31 - 1))
        point.positive.bucket_counts.extend(counts)
    elif signal == "traces":
        message = ExportTraceServiceRequest()
        resource_spans = message.resource_spans.add()
        _with(resource_spans.resource.attributes, attributes)
        spans = resource_spans.scope_spans.add().spans
        span = spans.add(trace_id=draw(st.binary(max_size=20)), span_id=draw(st.binary(max_size=10)), name="s")
        span.parent_span_id = draw(st.binary(max_size=10))
        span.start_time_unix_nano, span.end_time_unix_nano = stamp, draw(st.integers(0, 2**64 - 1))
        _with(span.attributes, attributes)
        _with(span.events.add(name=draw(st.text(max_size=20)), time_unix_nano=stamp).attributes, attributes)
        span.status.code = Status.StatusCode.ValueType(draw(st.integers(-5, 50)))
    else:
        message = ExportLogsServiceRequest()
        resource_logs = message.resource_logs.add()
        _with(resource_logs.resource.attributes, attributes)
        record = resource_logs.scope_logs.add().log_records.add(time_unix_nano=stamp)
        record.severity_number = SeverityNumber.ValueType(draw(st.integers(-5, 50)))
        _with(record.attributes, attributes)
        record.body.CopyFrom(_nested(draw(st.integers(0, 20))))
        record.trace_id, record.span_id = draw(st.binary(max_size=20)), draw(st.binary(max_size=10))
    return message.SerializeToString()


@st.composite
def mangled(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` as drawn, truncated, with bytes flipped, or with invalid UTF-8 or random bytes inserted."""
    how = draw(st.sampled_from(["as is", "truncated", "flipped", "invalid utf-8", "random bytes"]))
    at = draw(st.integers(0, len(body)))
    if how == "truncated":
        return body[:at]
    if how == "flipped" and body:
        i = min(at, len(body) - 1)
        return body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1 :]
    if how == "invalid utf-8":
        return (
            body[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])) + body[at:]
        )
    if how == "random bytes":
        return body[:at] + draw(st.binary(min_size=1, max_size=64)) + body[at:]
    return body


@st.composite
def encoded(draw: st.DrawFn, body: bytes) -> tuple[bytes, dict[str, str]]:
    """``body`` sent as is or gzipped: whole, truncated, after more members than allowed, or before
    a member inflating past the limit."""
    how = draw(st.sampled_from(["identity", "gzip", "truncated gzip", "many members", "past the limit"]))
    if how == "identity":
        return body, {}
    packed = gzip.compress(body, compresslevel=1)
    if how == "truncated gzip":
        packed = packed[: draw(st.integers(0, len(packed) - 1))]
    elif how == "many members":
        packed += EMPTY_MEMBER * draw(st.integers(MAX_GZIP_MEMBERS - 8, MAX_GZIP_MEMBERS + 8))
    elif how == "past the limit":
        packed += PAST_LIMIT_MEMBER
    return packed, {"content-encoding": "gzip"}


def _otlp_message(content: bytes, content_type: str) -> str:
    """The message of an OTLP error answer: ``google.rpc.Status`` in JSON or protobuf (field 1 the
    code as a varint, field 2 the message)."""
    if content_type.startswith(JSON):
        status = json.loads(content)
        assert isinstance(status["code"], int)
        return str(status["message"])
    assert content[:1] == b"\x08", content[:40]
    pos = 1
    while content[pos] & 0x80:  # the code's varint
        pos += 1
    assert content[pos + 1 : pos + 2] == b"\x12", content[:40]
    length, shift, pos = 0, 0, pos + 2
    while True:
        byte = content[pos]
        length |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return content[pos : pos + length].decode()


@pytest.fixture(scope="module")
def client(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz-envelopes") / "data"
    fuzz_settings: Settings = app_settings(
        kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap), rate_ingest_per_s=0
    )
    with running_app(fuzz_settings, with_sink=False, with_notifier=False) as running:
        yield running


def post(client: TestClient, path: str, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    """Post and check the answer: 2xx, or 4xx with reasons; then the app is still healthy."""
    response = client.post(path, content=body, headers={"content-type": content_type, **headers})
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code >= 300:
        assert 400 <= response.status_code < 500, response.status_code
        if path.startswith("/v1/"):
            assert _otlp_message(response.content, response.headers["content-type"]), response.content[:200]
        else:
            assert_error_shape(response.json())
            assert response.json()["details"], response.json()
    assert client.get("/healthz").status_code == 200
    workers: IngestWorkers = client.app.state.ingest.workers  # type: ignore[attr-defined]
    assert workers.busy == 0


FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENVELOPES = {
    "/api/v1/ingest/metrics": metrics_envelope,
    "/api/v1/ingest/spans": spans_envelope,
    "/api/v1/ingest/logs": logs_envelope,
}


@pytest.mark.parametrize("path", sorted(ENVELOPES))
@FUZZ
@given(data=st.data())
def test_hostile_json_envelopes_get_2xx_or_4xx_with_reasons(client: TestClient, path: str, data: st.DataObject) -> None:
    body = data.draw(hostile_envelopes(ENVELOPES[path](NOW_NS // 1_000_000)))
    sent, headers = data.draw(encoded(data.draw(mangled(body))))
    post(client, path, sent, JSON, headers)


@pytest.mark.parametrize("signal", ["metrics", "traces", "logs"])
@FUZZ
@given(data=st.data())
def test_hostile_otlp_requests_get_2xx_or_4xx_with_reasons(
    client: TestClient, signal: str, data: st.DataObject
) -> None:
    if data.draw(st.booleans()):
        body, content_type = data.draw(mangled(data.draw(otlp_requests(signal)))), PROTOBUF
    else:
        body, content_type = to_json(data.draw(json_values)).encode(), JSON
    sent, headers = data.draw(encoded(body))
    post(client, f"/v1/{signal}", sent, content_type, headers)
