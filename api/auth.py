"""Who may do what, decided in one place: an ASGI middleware in front of the API app and of the OTLP
app on its own port.

In order, for every HTTP request and WebSocket:

1. Host: when the API listens on a loopback address, a ``Host`` that is not a loopback name
   (``localhost``, ``127.0.0.1``, ``[::1]``, any port) nor an allowed host is refused 400: a web page
   that rebinds its own DNS name to 127.0.0.1 must not reach the API through the browser.
2. What the request needs (:func:`access_of`): nothing for ``/healthz``, ``/readyz`` and the
   dashboard's page and assets (they hold no data: the page reads the API with a key); ``ingest``
   for the ingest and OTLP endpoints; ``admin`` for writes; ``read`` for everything else, ``/metrics``
   (unless left open), ``/docs`` and ``/openapi.json`` included.
3. The key: ``Authorization: Bearer <key>``, looked up by its SHA-256 in a table of the active keys
   kept in memory and refreshed every :data:`KEYS_REFRESH_S` seconds in the background (a revoked
   key stops working within that; the hot ingest path never waits for ClickHouse). 401 without a
   key or with an unknown one, 403 with a key whose scope does not allow the request. Until the first
   key is made, everything is open (a fresh local install), but writes coming from another web
   origin are refused: without keys, the browser's origin is the only barrier. Once a key was made
   the API stays closed, even when every key is revoked (revoking a leaked last key must not open it).
4. The rate limit of the key for the request's budget (ingest, query, write): 429 with Retry-After.

The keys endpoints also take the local control token (:func:`write_control_token`): the first key
cannot require a key, and ``perfpulse keys create`` must work while the API holds the embedded store.
The token is a file only the data dir's owner can read, rewritten at each start.

Refusals use the API's error shape; no answer or log line ever contains the key sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from api.hosts import HostCheck
from api.ratelimit import RateLimiter
from schemas import error_body
from storage import Store, StoreError
from storage.keys import KeyTable, hash_key, key_table
from storage.keys import Scope as KeyScope

__all__ = [
    "CONTROL_TOKEN_FILE",
    "KEYS_REFRESH_S",
    "Access",
    "Auth",
    "AuthMiddleware",
    "AuthSetupError",
    "KeyCache",
    "access_of",
    "install_auth",
    "write_control_token",
]

log = logging.getLogger("perfpulse.api.auth")

KEYS_REFRESH_S = 2.0  # age of the in-memory key table past which it is read again
CONTROL_TOKEN_FILE = "control.token"  # in the data dir


class Access(StrEnum):
    """What a request needs."""

    OPEN = "open"  # anyone
    INGEST = "ingest"  # send data: an ingest or admin key
    READ = "read"  # read anything: a read or admin key
    WRITE = "write"  # change something (rules, silences, redeliveries): an admin key
    KEYS = "keys"  # list, create, revoke keys: an admin key or the control token


_GRANTS: dict[KeyScope, frozenset[Access]] = {
    KeyScope.ADMIN: frozenset({Access.INGEST, Access.READ, Access.WRITE, Access.KEYS}),
    KeyScope.READ: frozenset({Access.READ}),
    KeyScope.INGEST: frozenset({Access.INGEST}),
}
_NEEDS = {Access.INGEST: "an ingest or admin key", Access.READ: "a read or admin key",
          Access.WRITE: "an admin key", Access.KEYS: "an admin key"}  # fmt: skip
_BUDGET_OF = {Access.INGEST: "ingest", Access.READ: "query", Access.WRITE: "write", Access.KEYS: "write"}

_OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# The API's own paths: data, its description and perfpulse's metrics. A GET of any other path is the
# dashboard's (its page or a built asset), which holds no data. tests/api/test_auth.py walks every
# route of the app to keep this list whole.
_API_PATHS = ("/api/", "/v1/", "/metrics", "/docs", "/redoc", "/openapi.json")
_INGEST_PATHS = ("/api/v1/ingest/", "/v1/traces", "/v1/metrics", "/v1/logs")
_KEYS_PATH = "/api/v1/keys"
# POSTs that only read (a validation, a batch of queries, a canary verdict)
_READ_ONLY_POSTS = frozenset({"/api/v1/rules/validate", "/api/v1/query/batch", "/api/v1/canary"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def access_of(method: str, path: str, *, metrics_open: bool = False) -> Access:
    """What a ``method`` request of ``path`` needs; ``metrics_open`` leaves ``/metrics`` to anyone."""
    if path in _OPEN_PATHS or (path == "/metrics" and metrics_open):
        return Access.OPEN
    if method in _SAFE_METHODS and not path.startswith(_API_PATHS):
        return Access.OPEN
    if path == _KEYS_PATH or path.startswith(_KEYS_PATH + "/"):
        return Access.KEYS
    if path.startswith(_INGEST_PATHS):
        return Access.INGEST
    if method in _SAFE_METHODS or path in _READ_ONLY_POSTS:
        return Access.READ
    return Access.WRITE


class KeyCache:
    """The keys table, read with ``load`` (a ClickHouse query, run in a thread) and kept for
    ``max_age_s``. A request never waits for a refresh once a table was read: a stale table answers
    while the next one is read in the background."""

    def __init__(self, load: Callable[[], KeyTable], max_age_s: float = KEYS_REFRESH_S) -> None:
        self._load = load
        self.max_age_s = max_age_s
        self._table: KeyTable | None = None
        self._read_at = 0.0  # monotonic seconds
        self._refreshing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the table now (raises :class:`StoreError` when it cannot be read)."""
        async with self._lock:
            table = await asyncio.to_thread(self._load)
            self._table, self._read_at = table, time.monotonic()

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except StoreError as exc:
            # The previous table stays in force; the next request past max_age tries again.
            self._read_at = time.monotonic()
            log.warning("cannot refresh the API keys, the previous ones stay in force: %s", exc)

    async def current(self) -> KeyTable:
        """The keys (raises :class:`StoreError` when they were never read and cannot be)."""
        if self._table is None:
            await self.refresh()
        elif time.monotonic() - self._read_at > self.max_age_s and (
            self._refreshing is None or self._refreshing.done()
        ):
            self._refreshing = asyncio.create_task(self._refresh_quietly())
        assert self._table is not None
        return self._table


class AuthSetupError(RuntimeError):
    """The API cannot start safely as configured; the message says why and what to do."""


def write_control_token(data_dir: Path) -> tuple[Path, str]:
    """Write a new control token into ``data_dir`` (mode 0600, replaced atomically) and return its
    path and value. Only a process of the data dir's owner can read it, which is what it proves."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CONTROL_TOKEN_FILE
    token = "ppc_" + secrets.token_urlsafe(32)
    partial = data_dir / f".{CONTROL_TOKEN_FILE}.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode applies only to a new file
        os.write(fd, token.encode())
    finally:
        os.close(fd)
    os.replace(partial, path)
    return path, token


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


_AUTHORIZATION = "header.authorization"


class _Refusal(Exception):
    def __init__(
        self, status: int, error: str, msg: str, headers: dict[str, str] | None = None, loc: str = _AUTHORIZATION
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.msg = msg
        self.headers = headers
        self.loc = loc

    def response(self) -> JSONResponse:
        body = error_body(self.error, [{"loc": self.loc, "msg": self.msg}])
        return JSONResponse(body, status_code=self.status, headers=self.headers)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="perfpulse"'}
_INVALID = {"WWW-Authenticate": 'Bearer realm="perfpulse", error="invalid_token"'}


class Auth:
    """The policy and its state: hosts, keys, control token, rate limits. Built by the composition
    root; :meth:`start` once the store is open, :meth:`stop` at shutdown."""

    def __init__(self, hosts: HostCheck, limiter: RateLimiter, *, metrics_open: bool = False) -> None:
        self.hosts = hosts
        self.limiter = limiter
        self.metrics_open = metrics_open
        self.keys: KeyCache | None = None
        self._control: tuple[Path, str] | None = None

    async def start(self, store: Store, data_dir: Path) -> None:
        """Read the keys, write the control token; :class:`AuthSetupError` when the API would listen
        beyond loopback with no key to protect it."""
        self.keys = KeyCache(lambda: key_table(store))
        await self.keys.refresh()
        if not self.hosts.active and not (await self.keys.current()).made:
            raise AuthSetupError(
                "cannot serve the API beyond loopback without an API key: anyone who reaches the port could "
                "read and change everything. Create one first (perfpulse keys create --scope admin), or "
                "listen on 127.0.0.1 (PERFPULSE_API_HOST)"
            )
        self._control = write_control_token(data_dir)

    async def stop(self) -> None:
        if self._control is not None:
            path, token = self._control
            with contextlib.suppress(OSError):
                if path.read_text() == token:  # a later process on this data dir may have replaced it
                    path.unlink()
        await self.limiter.close()

    async def check(self, access: Access, headers: Headers) -> None:
        """Return when the request may go on; raise :class:`_Refusal` otherwise."""
        if self.keys is None:
            raise _Refusal(503, "cannot check API keys yet", "the API is starting")
        try:
            table = await self.keys.current()
        except StoreError as exc:
            log.warning("cannot read the API keys: %s", exc)
            raise _Refusal(503, "cannot check API keys: storage is unavailable", "retry later") from None
        token = _bearer(headers.get("authorization"))
        if access is Access.KEYS and token is not None and self._is_control(token):
            identity = "control"
        elif not table.made:
            if headers.get("origin") is not None and _cross_origin(headers) and access is not Access.READ:
                why = "send it from the API's origin, or with a key"
                raise _Refusal(403, "cross-origin request refused", why, loc="header.origin")
            return  # no key exists yet: open
        elif token is None:
            raise _Refusal(401, "an API key is required", "send the header Authorization: Bearer <key>", _CHALLENGE)
        else:
            key = table.active.get(hash_key(token))
            if key is None:
                raise _Refusal(401, "unknown or revoked API key", "create a key with perfpulse keys create", _INVALID)
            if access not in _GRANTS[key.scope]:
                raise _Refusal(403, f"API key {key.id} has scope {key.scope.value!r}", f"this needs {_NEEDS[access]}")
            identity = key.id
        retry_s = await self.limiter.take(_BUDGET_OF[access], identity)
        if retry_s is not None:
            raise _Refusal(
                429,
                f"rate limit of the {_BUDGET_OF[access]} budget reached",
                f"retry after {retry_s:.0f} s",
                {"Retry-After": f"{retry_s:.0f}"},
            )

    def _is_control(self, token: str) -> bool:
        return self._control is not None and hmac.compare_digest(token.encode(), self._control[1].encode())

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` behind this policy (for an app served on a port of its own)."""
        return AuthMiddleware(app, self)


def _cross_origin(headers: Headers) -> bool:
    return urlsplit(headers.get("origin", "")).netloc.lower() != headers.get("host", "").lower()


class AuthMiddleware:
    """The pure-ASGI middleware applying :class:`Auth` to every request of ``app``."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            if not self.auth.hosts.allows(headers.get("host")):
                raise _Refusal(
                    400,
                    f"cannot serve host {headers.get('host', '')!r}",
                    "the API listens on loopback: use localhost or 127.0.0.1, or list the name in "
                    "PERFPULSE_ALLOWED_HOSTS",
                    loc="header.host",
                )
            access = access_of(scope.get("method", "GET"), scope["path"], metrics_open=self.auth.metrics_open)
            if access is not Access.OPEN:
                await self.auth.check(access, headers)
        except _Refusal as refusal:
            if scope["type"] == "websocket":
                await WebSocketClose(code=1008, reason=refusal.error)(scope, receive, send)
            else:
                await refusal.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_auth(app: FastAPI, auth: Auth) -> None:
    """Put ``auth`` in front of every route of ``app`` (``app.state.auth`` for the keys endpoints),
    and say so in its OpenAPI document."""
    app.state.auth = auth
    app.add_middleware(AuthMiddleware, auth=auth)
    _document_auth(app, auth.metrics_open)


_AUTH_RESPONSES = {
    "401": "no API key, or an unknown or revoked one (once any key exists)",
    "403": "the key's scope does not allow this request",
    "429": "the key's rate limit for this kind of request: retry after Retry-After seconds",
}


def _document_auth(app: FastAPI, metrics_open: bool) -> None:
    """The bearer scheme on every operation that needs a key, with the answers the middleware gives."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        if fresh:  # FastAPI caches the document: add to it once
            schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["apiKey"] = {"type": "http", "scheme": "bearer", "description": "a perfpulse API key (pp_...)"}
            for path, operations in document.get("paths", {}).items():
                for method, operation in operations.items():
                    if access_of(method.upper(), path, metrics_open=metrics_open) is Access.OPEN:
                        continue
                    operation["security"] = [{"apiKey": []}]
                    answers = operation.setdefault("responses", {})
                    for status, why in _AUTH_RESPONSES.items():
                        answers.setdefault(status, {"description": why, "content": _ERROR_CONTENT})
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
