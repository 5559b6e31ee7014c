"""The retry policy itself: backoff with jitter, what is retried, Retry-After, recorded attempts."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from alerting.notify.channels import RetryPolicy
from alerting.notify.delivery import AttemptResult, backoff_ms, deliver, http_attempt
from alerting.notify.httpclient import HttpClient
from alerting.notify.model import Attempt, AttemptOutcome, HttpRequest
from alerting.notify.secret import Secret
from tests.alerting.conftest import FakeClock, Sleeps
from tests.alerting.receivers import HttpReceiver


def test_backoff_doubles_is_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_initial_ms=500, backoff_max_ms=3_000)
    rng = random.Random(7)
    for failures, (low, high) in {
        1: (250, 500),
        2: (500, 1000),
        3: (1000, 2000),
        4: (1500, 3000),
        9: (1500, 3000),
    }.items():
        delays = {backoff_ms(policy, failures, rng) for _ in range(200)}
        assert low <= min(delays) and max(delays) <= high
        assert len(delays) > 50, "jitter spreads retries"


async def scripted(
    results: list[AttemptResult], sleeps: Sleeps, clock: FakeClock, **policy: int
) -> tuple[bool, list[Attempt]]:
    recorded: list[Attempt] = []
    queue = list(results)

    async def attempt(timeout_s: float) -> AttemptResult:
        return queue.pop(0)

    delivery = await deliver(
        attempt,
        policy=RetryPolicy(**policy),
        notification_id="n",
        channel="c",
        target="t",
        recorder=recorded.append,
        clock=clock,
        sleep=sleeps,
    )
    assert delivery.attempts == len(recorded)
    return delivery.delivered, recorded


async def test_permanent_failure_stops_at_once(sleeps: Sleeps, clock: FakeClock) -> None:
    ok, attempts = await scripted([AttemptResult(False, False, 404, "HTTP 404")], sleeps, clock)
    assert not ok and [a.outcome for a in attempts] == [AttemptOutcome.FAILED] and sleeps.calls == []


async def test_retry_after_lengthens_the_delay_up_to_the_cap(sleeps: Sleeps, clock: FakeClock) -> None:
    results = [AttemptResult(False, True, 503, "HTTP 503", retry_after_ms=4_000), AttemptResult(True, False, 200)]
    ok, attempts = await scripted(results, sleeps, clock, backoff_max_ms=3_000)
    assert ok and attempts[0].next_delay_ms == 3_000 and sleeps.calls == [3.0]


async def test_a_crashing_attempt_is_a_failure_not_a_crash(sleeps: Sleeps, clock: FakeClock) -> None:
    async def attempt(timeout_s: float) -> AttemptResult:
        raise RuntimeError("boom with secret")

    recorded: list[Attempt] = []
    delivery = await deliver(
        attempt, policy=RetryPolicy(), notification_id="n", channel="c", target="t", recorder=recorded.append
    )
    assert not delivery.delivered and recorded[0].error == "cannot send: RuntimeError"


@pytest.mark.parametrize(("status", "retried"), [(429, False), (404, False), (500, True), (503, True), (302, False)])
async def test_http_classification(status: int, retried: bool, http_receiver: Callable[..., HttpReceiver]) -> None:
    receiver = http_receiver(default=status, headers={"Retry-After": "1"})
    async with HttpClient() as client:
        result = await http_attempt(client, HttpRequest(Secret(receiver.url + "/x"), b"{}"))(2.0)
    assert not result.ok and result.retriable is retried and result.status_code == status
    assert result.retry_after_ms == (1000 if status == 503 else None)
