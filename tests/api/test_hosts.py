"""The Host check's names: what counts as loopback, ports and brackets, allowed names."""

from __future__ import annotations

import pytest

from api.hosts import HostCheck, is_loopback


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_names(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "localhost.evil", "127.0.0.1.nip.io", ""])
def test_other_names(host: str) -> None:
    assert not is_loopback(host)


def test_the_check_applies_only_while_listening_on_loopback() -> None:
    assert not HostCheck("0.0.0.0").active and HostCheck("0.0.0.0").allows("anything.example")
    assert HostCheck("::1").active and HostCheck("localhost").active


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("localhost:8080", True),
        ("[::1]:8080", True),
        ("127.0.0.1", True),
        ("perfpulse.internal:443", True),
        ("PERFPULSE.internal", True),
        ("evil.example", False),
        ("evil.example:8080", False),
        ("[::1", False),
        (None, False),
    ],
)
def test_a_request_names_a_loopback_or_allowed_host(header: str | None, allowed: bool) -> None:
    assert HostCheck("127.0.0.1", ["perfpulse.internal"]).allows(header) is allowed
