"""The notifier's HTTP client: one aiohttp session, opened on the first request (aiohttp needs a
running event loop), and a check run right before each request is made (the lease: stage.py).

Why aiohttp and not httpx: the notifier runs on the API's event loop, and an alert storm is a
burst of webhooks. Bursts of 100 concurrent POSTs to a local receiver, with 100 pooled connections,
cost httpx 1.6-14 ms of CPU per request (httpcore tests every pooled connection's socket whenever a
request starts or ends: ``is_socket_readable``, O(requests x connections)), aiohttp 0.12-0.26 ms.
That CPU delayed the other webhooks of the burst and every other request the API served meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace, TracebackType
from typing import Any

import aiohttp

__all__ = ["MAX_ANSWER_BYTES", "HttpAnswer", "HttpClient"]

MAX_ANSWER_BYTES = 4_096  # of a receiver's answer body read: only its first 200 characters are shown


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What a receiver answered: the status, its ``Retry-After`` header ("" without) and the start
    of its body (at most :data:`MAX_ANSWER_BYTES`)."""

    status: int
    retry_after: str
    body: bytes


class HttpClient:
    """Sends requests over one aiohttp session, without following redirects, without keeping cookies
    between receivers, and with proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``) as
    httpx did. ``before_request`` runs before each request and may raise to refuse it: its exception
    reaches the caller of :meth:`request` unchanged."""

    def __init__(self, before_request: Callable[[], None] | None = None) -> None:
        self._before_request = before_request
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self, method: str, url: str, *, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> HttpAnswer:
        """Send one request and read its answer within ``timeout_s`` in all. Raises ``TimeoutError``,
        :class:`aiohttp.ClientError` (``aiohttp.InvalidURL`` is also a ``ValueError``) or ``ValueError``
        for a header that cannot be sent."""
        async with self._opened().request(
            method,
            url,
            data=body,
            headers=dict(headers),
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            body = await response.content.read(MAX_ANSWER_BYTES)  # a receiver's answer is not trusted
            return HttpAnswer(response.status, response.headers.get("Retry-After", ""), body)

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            traces = []
            if self._before_request is not None:
                trace = aiohttp.TraceConfig()
                trace.on_request_start.append(self._on_request_start)
                traces.append(trace)
            self._session = aiohttp.ClientSession(
                trace_configs=traces, cookie_jar=aiohttp.DummyCookieJar(), trust_env=True
            )
        return self._session

    async def _on_request_start(self, session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
        assert self._before_request is not None
        self._before_request()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
