"""ASGI middleware (Starlette, FastAPI, any ASGI app): RED metrics and a server span per request.

``app.add_middleware(PerfpulseMiddleware, emitter=emitter)`` — or wrap any ASGI app,
``PerfpulseMiddleware(app, emitter=emitter)``. Per HTTP request:

* one ``http.server.duration`` observation in milliseconds, from the request's arrival to the end of
  its response, labelled ``route`` (the matched route's template, e.g. ``/cart/{cart_id}``, with the
  prefixes of the mounts it sits in; ``unmatched`` when no route matched — never the raw path, so
  the number of series stays bounded by the app's routes), ``method`` (``_OTHER`` for a method
  outside the standard ones) and ``status_code``;
* a SERVER span named ``<METHOD> <route>`` continuing the caller's ``traceparent`` (a new trace
  without one), current while the app runs (the handler's spans and log records nest under it),
  an error for a 5xx status or an exception; the response carries ``traceresponse`` naming it.

An exception leaving the app is recorded as status 500 and raised on. Websocket and lifespan
messages pass through untouched. Imports nothing of Starlette: the SDK's base install stays free of
server packages.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Final

from ingest.sdk.emitter import Emitter
from ingest.sdk.httpmethod import method_label
from ingest.sdk.traceparent import format_traceparent, parse_traceparent
from ingest.sdk.tracing import ActiveSpan, SpanContext
from schemas import SpanKind, SpanStatus
from schemas.checks import check_metric_name

__all__ = ["UNMATCHED", "PerfpulseMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED: Final = "unmatched"
_MAX_TRACESTATE_BYTES: Final = 512


class PerfpulseMiddleware:
    """Records RED metrics and a server span for every HTTP request of the wrapped ASGI app.

    ``metric``: the distribution's name (default ``http.server.duration``). Recording never raises
    into the request: instrumentation must not break the app it observes.
    """

    def __init__(self, app: ASGIApp, *, emitter: Emitter, metric: str = "http.server.duration") -> None:
        self.app = app
        self.emitter = emitter
        self.metric = metric
        if (problem := check_metric_name(metric, emitter.limits)) is not None:
            raise ValueError(f"cannot instrument the app: {problem}")
        # Route object id -> its full template; bounded by the app's routes (filled on first sight).
        self._templates: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = method_label(str(scope.get("method", "GET")))
        app = scope.get("app")  # the app whose routes are searched (a mounted sub-app replaces it)
        span = self.emitter.span(method, parent=_remote_parent(scope), kind=SpanKind.SERVER)
        traceresponse = format_traceparent(span.context).encode("latin-1")
        status = 0
        route = UNMATCHED

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 0))
                headers = list(message.get("headers") or [])
                headers.append((b"traceresponse", traceresponse))
                message["headers"] = headers
            await send(message)

        try:
            with span:  # current while the app runs; ended (an exception recorded) on leaving
                try:
                    await self.app(scope, receive, send_traced)
                except Exception:
                    status = status if status >= 500 else 500  # the app failed, whatever it had begun
                    raise
                finally:
                    route = self._route_of(app, scope)
                    _describe(span, method, route, status)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self.emitter.observe(self.metric, elapsed_ms, route=route, method=method, status_code=str(status))

    def _route_of(self, app: object, scope: Scope) -> str:
        """The template of the route the router matched (it sets ``scope["route"]``) among the
        routes of ``app``."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        key = id(route)
        template = self._templates.get(key)
        if template is None:
            template = _find_template(getattr(app, "routes", ()), route, "") or _own_path(route)
            template = template or UNMATCHED
            if len(self._templates) < 10_000:  # an app that makes routes per request must not grow this
                self._templates[key] = template
        return template


def _describe(span: ActiveSpan, method: str, route: str, status: int) -> None:
    """Name the request's span once its route and status are known (before it ends)."""
    span.operation = f"{method} {route}"
    span.set_tags(**{"http.method": method, "http.route": route, "http.status_code": status})
    if status >= 500:
        span.set_status(SpanStatus.ERROR, f"HTTP {status}")


def _own_path(route: object) -> str:
    """A route's template (``path_format`` drops the converters: ``{id:int}`` -> ``{id}``)."""
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else ""


def _find_template(routes: Iterable[object], target: object, prefix: str) -> str | None:
    """The full template of ``target`` among ``routes`` and the routes of the mounts among them."""
    for route in routes:
        if route is target:
            return prefix + _own_path(route) or "/"
        children = getattr(route, "routes", None)
        mount_path = getattr(route, "path", None)  # a mount's own prefix (its path_format ends in /{path})
        if (
            children
            and isinstance(mount_path, str)
            and (found := _find_template(children, target, prefix + mount_path)) is not None
        ):
            return found
    return None


def _remote_parent(scope: Scope) -> SpanContext | None:
    """The context of the request's ``traceparent`` (and ``tracestate``); None without a valid one."""
    traceparent = tracestate = ""
    for name, value in scope.get("headers") or ():
        if name == b"traceparent":
            traceparent = value.decode("latin-1")
        elif name == b"tracestate" and len(value) <= _MAX_TRACESTATE_BYTES:
            tracestate = value.decode("latin-1")
    return parse_traceparent(traceparent, tracestate) if traceparent else None
