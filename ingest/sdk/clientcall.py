"""One outgoing HTTP call traced: what the httpx transports and the requests session share.

A CLIENT span ``<METHOD> <host>`` under the current span, tagged ``http.method``, ``http.url``
(scheme, host and path: never the query, which may carry secrets), ``server.address`` and
``http.status_code`` (an error for a 5xx status or an exception); the request's ``traceparent``
naming it; one observation of the tracer's metric in milliseconds labelled ``method``,
``status_code`` (``error`` when no response came) and ``host`` (never the path: series stay bounded).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, MutableMapping

from ingest.sdk.emitter import Emitter
from ingest.sdk.httpmethod import method_label
from ingest.sdk.traceparent import inject
from ingest.sdk.tracing import ActiveSpan
from schemas import SpanKind, SpanStatus
from schemas.checks import check_metric_name

__all__ = ["ClientCall", "ClientTracer"]


class ClientCall:
    """One traced request: its span (current while the request runs) and the status seen."""

    __slots__ = ("host", "method", "span", "status")

    def __init__(self, emitter: Emitter, method: str, scheme: str, host: str, path: str) -> None:
        self.method = method_label(method)
        self.host = host
        self.status = "error"
        self.span: ActiveSpan = emitter.span(f"{self.method} {host}", kind=SpanKind.CLIENT)
        self.span.set_tags(
            **{"http.method": self.method, "http.url": f"{scheme}://{host}{path}", "server.address": host}
        )

    def answered(self, status_code: int) -> None:
        """The response's status arrived."""
        self.status = str(status_code)
        self.span.set_tag("http.status_code", status_code)
        if status_code >= 500:
            self.span.set_status(SpanStatus.ERROR, f"HTTP {status_code}")


class ClientTracer:
    """Traces calls for one emitter into one metric (default ``http.client.duration``)."""

    def __init__(self, emitter: Emitter, metric: str) -> None:
        if (problem := check_metric_name(metric, emitter.limits)) is not None:
            raise ValueError(f"cannot trace HTTP calls: {problem}")
        self.emitter = emitter
        self.metric = metric

    @contextlib.contextmanager
    def call(
        self, method: str, scheme: str, host: str, path: str, headers: MutableMapping[str, str]
    ) -> Iterator[ClientCall]:
        """Trace the request sent inside the block: its span current, its ``headers`` naming it."""
        call = ClientCall(self.emitter, method, scheme, host, path)
        inject(headers, call.span)
        started = time.perf_counter()
        try:
            with call.span:
                yield call
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self.emitter.observe(self.metric, elapsed_ms, method=call.method, status_code=call.status, host=call.host)
