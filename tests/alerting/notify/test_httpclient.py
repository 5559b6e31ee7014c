"""The notifier's HTTP client against real local receivers: the check before each request can refuse
it, redirects are answers (not followed), cookies are not carried to the next request, an invalid
URL fails for good, and a closed client opens again on its next request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from alerting.notify.delivery import http_attempt
from alerting.notify.httpclient import MAX_ANSWER_BYTES, HttpClient
from alerting.notify.model import HttpRequest
from alerting.notify.secret import Secret
from tests.alerting.receivers import HttpReceiver


class Refused(Exception):
    pass


async def test_the_check_before_a_request_refuses_it_and_its_error_reaches_the_caller(
    http_receiver: Callable[..., HttpReceiver],
) -> None:
    receiver = http_receiver()
    allowed = [True]

    def check() -> None:
        if not allowed[0]:
            raise Refused("the lease ended")

    async with HttpClient(before_request=check) as client:
        sent = await client.request("POST", receiver.url + "/a", body=b"1", headers={}, timeout_s=5)
        allowed[0] = False
        with pytest.raises(Refused, match="the lease ended"):
            await client.request("POST", receiver.url + "/b", body=b"2", headers={}, timeout_s=5)
    assert sent.status == 200
    assert [r.path for r in receiver.requests] == ["/a"], "the refused request never left"


async def test_a_redirect_is_the_answer_and_cookies_are_not_kept(http_receiver: Callable[..., HttpReceiver]) -> None:
    receiver = http_receiver([302], headers={"Location": "/elsewhere", "Set-Cookie": "session=abc; Path=/"})
    async with HttpClient() as client:
        first = await client.request("POST", receiver.url + "/hook", body=b"{}", headers={}, timeout_s=5)
        second = await client.request("POST", receiver.url + "/hook", body=b"{}", headers={}, timeout_s=5)
    assert (first.status, second.status) == (302, 200)
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"], "the redirect was not followed"
    assert "cookie" not in receiver.requests[1].headers


async def test_an_invalid_url_fails_for_good() -> None:
    async with HttpClient() as client:
        result = await http_attempt(client, HttpRequest(Secret("http://[::1/hook?token=tok-9"), b"{}"))(2.0)
    assert not result.ok and not result.retriable
    assert result.error is not None and result.error.startswith("cannot send: InvalidUrl")
    assert "tok-9" not in result.error


async def test_a_closed_client_opens_again(http_receiver: Callable[..., HttpReceiver]) -> None:
    receiver = http_receiver()
    client = HttpClient()
    await client.request("POST", receiver.url, body=b"1", headers={"X-Seq": "1"}, timeout_s=5)
    await client.aclose()
    answer = await client.request("POST", receiver.url, body=b"2", headers={"X-Seq": "2"}, timeout_s=5)
    await client.aclose()
    assert answer.status == 200 and [r.headers["x-seq"] for r in receiver.requests] == ["1", "2"]


async def test_a_huge_answer_is_read_only_as_far_as_the_bound() -> None:
    huge = 8 * 1024 * 1024

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % huge)
        with contextlib.suppress(ConnectionError):
            for _ in range(huge // 65_536):
                writer.write(b"x" * 65_536)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, HttpClient() as client:
        got = await client.request("POST", f"http://127.0.0.1:{port}/", body=b"{}", headers={}, timeout_s=5)
    assert got.status == 500 and len(got.body) == MAX_ANSWER_BYTES
