"""Fixtures of the alerting tests: rules files, a fake clock, and real local receivers."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alerting.notify import Channel, parse_channels
from alerting.rules import RuleSet, parse_rules
from tests.alerting.receivers import HttpReceiver, MailBox, start_http, start_smtp


class FakeClock:
    """Epoch milliseconds that move only when a test says so."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> int:
        self.now_ms += ms
        return self.now_ms


class Sleeps:
    """An injected sleep that returns at once and remembers what was asked."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def rules_text() -> Callable[..., RuleSet]:
    """Parse the rules of dedented YAML into a RuleSet, failing the test on errors."""

    def make(text: str, window_ms: int | None = None) -> RuleSet:
        result = parse_rules(textwrap.dedent(text), file="rules.yaml", window_ms=window_ms)
        assert result.rules is not None, [str(e) for e in result.errors]
        return result.rules

    return make


@pytest.fixture
def channels_text() -> Callable[..., dict[str, Channel]]:
    """Parse the channels of dedented YAML (``${VAR}`` from ``env``, default none), failing the test on errors."""

    def make(text: str, env: dict[str, str] | None = None) -> dict[str, Channel]:
        result = parse_channels(textwrap.dedent(text), file="rules.yaml", env=env or {})
        assert result.channels is not None, [str(e) for e in result.errors]
        return dict(result.channels)

    return make


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def make(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return make


@pytest.fixture
def http_receiver() -> Iterator[Callable[..., HttpReceiver]]:
    """Start scripted HTTP receivers: ``http_receiver([503, 503])`` answers 503 twice, then 200."""
    stops: list[Iterator[HttpReceiver]] = []

    def start(
        script: list[int] | None = None,
        default: int = 200,
        headers: dict[str, str] | None = None,
        delays: list[float] | None = None,
    ) -> HttpReceiver:
        receiver = HttpReceiver(list(script or []), default, headers=dict(headers or {}), delays=list(delays or []))
        gen = start_http(receiver)
        stops.append(gen)
        return next(gen)

    yield start
    for gen in stops:
        next(gen, None)


@pytest.fixture
def smtp_server() -> Iterator[tuple[MailBox, int]]:
    yield from start_smtp(MailBox())
