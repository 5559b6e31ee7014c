"""The async traced httpx transport against a real upstream: client spans under the current span,
``traceparent`` naming them, ``http.client.duration`` by method, status and host — found through a
running perfpulse's API."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ingest import Emitter
from ingest.sdk.httpclient import AsyncTracedTransport
from tests.e2e.conftest import Deployment
from tests.ingest.sdk.telemetry import counts_by, stored_trace
from tests.ingest.sdk.upstream import closed_port, upstream

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_client_spans_carry_traceparent_and_calls_are_counted_by_method_status_and_host(
    deployment: Deployment,
) -> None:
    settings = deployment.settings
    front = Emitter("py-caller", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    refused = f"127.0.0.1:{closed_port()}"

    async def calls(base: str) -> str:
        async with httpx.AsyncClient(transport=AsyncTracedTransport(front), timeout=30) as client:
            with front.span("checkout") as root:
                assert (await client.get(f"{base}/price?item=1&token=secret")).status_code == 200
                assert (await client.post(f"{base}/price", content=b"x")).status_code == 503
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://{refused}/price")
        return root.trace_id

    try:
        with upstream("/price", ["GET", "POST"], lambda method: 503 if method == "POST" else 200) as (base, received):
            trace_id = asyncio.run(calls(base))
        assert front.flush(30)
    finally:
        front.close()
    host = base.removeprefix("http://")

    assert counts_by(deployment, "http.client.duration", "py-caller", "method,status_code,host", expected=3) == {
        f"GET 200 {host}": 1,
        f"POST 503 {host}": 1,
        f"GET error {refused}": 1,
    }
    spans = stored_trace(deployment, trace_id, spans=3)
    [root] = [s for s in spans if s["operation"] == "checkout"]
    clients = sorted((s for s in spans if s["kind"] == "client"), key=lambda s: s["operation"])  # GET, then POST
    assert [c["operation"] for c in clients] == [f"GET {host}", f"POST {host}"]
    for client, traceparent in zip(clients, received, strict=True):
        assert client["parent_span_id"] == root["span_id"]
        assert traceparent == f"00-{trace_id}-{client['span_id']}-01", "the request named its client span"
    assert clients[0]["tags"]["http.url"] == f"http://{host}/price", "never the query"
    assert clients[0]["status"] != "error" and clients[1]["status"] == "error"
