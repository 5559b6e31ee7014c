"""A traced requests session against a real upstream: client spans under the current span,
``traceparent`` naming them, ``http.client.duration`` by method, status and host, found through a
running perfpulse's API."""

from __future__ import annotations

import pytest
import requests

from ingest import Emitter
from ingest.sdk.requestsclient import traced_session
from tests.e2e.conftest import Deployment
from tests.ingest.sdk.telemetry import counts_by, stored_trace
from tests.ingest.sdk.upstream import closed_port, upstream

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_a_traced_session_sends_traceparent_and_counts_calls_by_method_status_and_host(
    deployment: Deployment,
) -> None:
    settings = deployment.settings
    caller = Emitter("py-requests", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    refused = f"127.0.0.1:{closed_port()}"
    try:
        with upstream("/stock", ["GET", "DELETE"], lambda method: 404 if method == "DELETE" else 200) as (
            base,
            received,
        ):
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
