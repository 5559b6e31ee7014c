"""A ``requests`` session that traces its calls: a client span, ``traceparent`` out, ``http.client.duration``.

``session = traced_session(emitter)`` (or ``traced_session(emitter, existing_session)``), then use it
as any session: each request sent (each hop of a redirect too) gets a CLIENT span under the current
span, a ``traceparent`` naming it and one ``http.client.duration`` observation in milliseconds up to
the response (with its body, unless streamed), as :mod:`ingest.sdk.clientcall` describes.

requests is imported only when no session is given: the SDK's base install does not need it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ingest.sdk.clientcall import ClientTracer
from ingest.sdk.emitter import Emitter

__all__ = ["traced_session"]


def traced_session(emitter: Emitter, session: Any = None, *, metric: str = "http.client.duration") -> Any:
    """``session`` (default a new ``requests.Session()``) with its ``send`` traced; returned for
    chaining. Raises ``ValueError`` for an invalid metric name."""
    tracer = ClientTracer(emitter, metric)
    if session is None:
        import requests  # optional: only users of requests have it

        session = requests.Session()
    send = session.send

    def traced_send(request: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url)
        host = f"{parts.hostname or ''}:{parts.port}" if parts.port else parts.hostname or ""  # never the userinfo
        with tracer.call(request.method or "GET", parts.scheme, host, parts.path, request.headers) as call:
            response = send(request, **kwargs)
            call.answered(response.status_code)
            return response

    session.send = traced_send
    return session
