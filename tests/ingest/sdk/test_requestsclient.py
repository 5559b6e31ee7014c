"""A traced requests session against a real upstream: client spans under the current span,
``traceparent`` naming them, ``http.client.duration`` by method, status and host, found through a
running perfpulse's API."""

from __future__ import annotations

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ingest import Emitter
from ingest.sdk.requestsclient import traced_session
from tests.e2e.conftest import Deployment
from tests.ingest.helpers import serving
from tests.ingest.sdk.telemetry import counts_by, stored_trace
from tests.ingest.sdk.test_httpclient import closed_port

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_a_traced_session_sends_traceparent_and_counts_calls_by_method_status_and_host(
    deployment: Deployment,
) -> None:
    received: list[str | None] = []

    async def stock(request: Request) -> PlainTextResponse:
        received.append(request.headers.get("traceparent"))
        return PlainTextResponse("gone", status_code=404 if request.method == "DELETE" else 200)

    settings = deployment.settings
    caller = Emitter("py-requests", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    refused = f"127.0.0.1:{closed_port()}"
    try:
        with serving(Starlette(routes=[Route("/stock", stock, methods=["GET", "DELETE"])])) as base:
            session = traced_session(caller)
            with caller.span("restock") as root:
                assert session.get(f"{base}/stock?sku=1").status_code == 200
                assert session.delete(f"{base}/stock").status_code == 404
            with pytest.raises(requests.ConnectionError):
                session.get(f"http://{refused}/stock", timeout=5)
        assert caller.flush(30)
    finally:
        caller.close()
    host = base.removeprefix("http://")

    assert counts_by(deployment, "http.client.duration", "py-requests", "method,status_code,host", expected=3) == {
        f"GET 200 {host}": 1,
        f"DELETE 404 {host}": 1,
        f"GET error {refused}": 1,
    }
    spans = stored_trace(deployment, root.trace_id, spans=3)
    clients = sorted((s for s in spans if s["kind"] == "client"), key=lambda s: s["operation"])  # DELETE, then GET
    assert [c["operation"] for c in clients] == [f"DELETE {host}", f"GET {host}"]
    assert all(c["parent_span_id"] == root.span_id for c in clients)
    assert received == [f"00-{root.trace_id}-{c['span_id']}-01" for c in reversed(clients)], "GET was sent first"
    assert clients[1]["tags"]["http.url"] == f"http://{host}/stock", "never the query"
