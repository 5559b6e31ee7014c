"""Delivery with retries: exponential backoff with jitter on transient failures, none on permanent ones.

Only 2xx counts as delivered (Prometheus's notifier rule). Transient: timeouts, connection errors
and 5xx — the receiver may be back in a moment. Permanent: 4xx (the request itself is wrong; sending
it again cannot help, 429 included, because a receiver rate-limiting us is not helped by the same
burst sooner). Every attempt goes to the injected recorder; the caller dead-letters a delivery that
ends undelivered.

Backoff before attempt n+1 is ``min(max, initial * 2**(n-1))`` with "equal jitter": half of it fixed,
half random, so concurrent notifiers spread out yet never retry immediately. A ``Retry-After`` of a
503 lengthens the delay (up to the cap). Sleeping and the clock are injected: tests run the whole
retry sequence against a real receiver without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from alerting.notify.channels import RetryPolicy
from alerting.notify.httpclient import HttpClient
from alerting.notify.model import Attempt, AttemptOutcome, Clock, Delivery, HttpRequest, Recorder
from alerting.notify.secret import Secret, redact_text

__all__ = ["AttemptFn", "AttemptResult", "Sleep", "backoff_ms", "deliver", "http_attempt", "wall_clock_ms"]

Sleep = Callable[[float], Awaitable[None]]  # seconds


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The answer to one attempt."""

    ok: bool
    retriable: bool  # meaningful when not ok
    status_code: int | None = None
    error: str | None = None  # already free of secrets
    retry_after_ms: int | None = None  # the receiver's Retry-After, when it sent one


AttemptFn = Callable[[float], Awaitable[AttemptResult]]  # one attempt, given its timeout in seconds


def backoff_ms(policy: RetryPolicy, failed_attempts: int, rng: random.Random) -> int:
    """Delay after ``failed_attempts`` failures (>= 1): exponential, capped, with equal jitter."""
    base = min(policy.backoff_max_ms, policy.backoff_initial_ms << min(failed_attempts - 1, 30))
    half = base // 2
    return half + rng.randint(0, base - half)


async def deliver(
    attempt: AttemptFn,
    *,
    policy: RetryPolicy,
    notification_id: str,
    channel: str,
    target: str,
    recorder: Recorder,
    clock: Clock = wall_clock_ms,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> Delivery:
    """Run ``attempt`` until it succeeds, fails permanently or ``policy.max_attempts`` are spent."""
    rng = rng or random.Random()
    result = AttemptResult(False, False, error="no attempt made")
    for number in range(1, policy.max_attempts + 1):
        started = clock()
        begin = time.monotonic()
        try:
            result = await attempt(policy.timeout_ms / 1000)
        except Exception as exc:  # an attempt function must not crash the notifier
            result = AttemptResult(False, False, error=f"cannot send: {type(exc).__name__}")
        duration = round((time.monotonic() - begin) * 1000)
        last = number == policy.max_attempts
        if result.ok:
            outcome, delay = AttemptOutcome.DELIVERED, None
        elif result.retriable and not last:
            delay = backoff_ms(policy, number, rng)
            if result.retry_after_ms is not None:
                delay = min(policy.backoff_max_ms, max(delay, result.retry_after_ms))
            outcome = AttemptOutcome.RETRY
        else:
            outcome, delay = AttemptOutcome.FAILED, None
        recorder(
            Attempt(
                notification_id,
                channel,
                target,
                number,
                started,
                duration,
                outcome,
                result.status_code,
                result.error,
                delay,
            )
        )
        if outcome is not AttemptOutcome.RETRY:
            return Delivery(result.ok, number, target, result.status_code, result.error)
        assert delay is not None
        await sleep(delay / 1000)
    return Delivery(False, policy.max_attempts, target, result.status_code, result.error)  # pragma: no cover


def _retry_after_ms(value: str) -> int | None:
    value = value.strip()
    return int(value) * 1000 if value.isdigit() else None


def http_attempt(client: HttpClient, request: HttpRequest) -> AttemptFn:
    """An attempt function that sends ``request`` with ``client`` and classifies the answer."""
    secrets: tuple[Secret, ...] = (request.url, *request.secrets)

    async def send(timeout_s: float) -> AttemptResult:
        try:
            answer = await client.request(
                request.method, request.url.reveal(), body=request.body, headers=request.headers, timeout_s=timeout_s
            )
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            return AttemptResult(False, True, error=f"timed out after {timeout_s:g} s ({type(exc).__name__})")
        except ValueError as exc:  # an invalid URL (aiohttp.InvalidURL) or header: permanent
            return AttemptResult(False, False, error=redact_text(f"cannot send: {type(exc).__name__}: {exc}", secrets))
        except (aiohttp.ClientError, OSError) as exc:
            return AttemptResult(
                False, True, error=redact_text(f"cannot connect: {type(exc).__name__}: {exc}", secrets)
            )
        status = answer.status
        if 200 <= status < 300:
            return AttemptResult(True, False, status)
        text = answer.body[:200].decode("utf-8", "replace").strip()
        snippet = redact_text(text, secrets) if text else ""
        error = f"HTTP {status}{': ' + snippet if snippet else ''}"
        return AttemptResult(
            False, status >= 500, status, error, _retry_after_ms(answer.retry_after) if status == 503 else None
        )

    return send
