"""The webhook channel against a real HTTP receiver: Alertmanager v4 JSON, HMAC, retries, dead letters."""

from __future__ import annotations

import random
from collections.abc import Callable

from alerting.notify.httpclient import HttpClient
from alerting.notify.model import AttemptOutcome, Delivery
from alerting.notify.sender import AttemptLog, ChannelSender
from alerting.notify.webhook import SIGNATURE_HEADER, sign, verify_signature, webhook_payload
from alerting.rules.state import State
from tests.alerting.conftest import FakeClock, Sleeps
from tests.alerting.notify.helpers import T0, channels, make_alert, make_notification
from tests.alerting.receivers import HttpReceiver


def test_payload_is_alertmanager_webhook_v4() -> None:
    firing = make_alert()
    resolved = make_alert(rule="slow_db", state=State.RESOLVED, resolved_at_ms=T0 + 5_000)
    body = webhook_payload(make_notification(firing, resolved), external_url="http://perfpulse:8080")
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "hook"
    assert body["truncatedAlerts"] == 0 and body["externalURL"] == "http://perfpulse:8080"
    assert body["groupLabels"] == {"alertname": "high_response_time", "service": "gateway"}
    assert body["commonLabels"] == {"severity": "warning", "service": "gateway"}
    first, second = body["alerts"]
    assert first == {
        "status": "firing",
        "labels": {"alertname": "high_response_time", "severity": "warning", "service": "gateway"},
        "annotations": {"summary": "high_response_time on gateway: 250"},
        "startsAt": "2023-11-14T22:13:20.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://perfpulse:8080",
        "fingerprint": firing.fingerprint,
    }
    assert (second["status"], second["endsAt"]) == ("resolved", "2023-11-14T22:13:25.000Z")


def test_signature_scheme() -> None:
    body = b'{"a":1}'
    header = sign("k", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature("k", header, body, now_s=1_700_000_100)
    assert not verify_signature("other", header, body, now_s=1_700_000_100)
    assert not verify_signature("k", header, body + b" ", now_s=1_700_000_100)
    assert not verify_signature("k", header, body, now_s=1_700_001_000), "too old: replay refused"
    assert not verify_signature("k", "garbage", body, now_s=1_700_000_000)


async def send(
    receiver: HttpReceiver, clock: FakeClock, sleeps: Sleeps, *, attempts: int = 5, per_attempt: str = "2s"
) -> tuple[list[Delivery], AttemptLog]:
    url = f"{receiver.url}/hook?token=tok-123"
    chans = channels(
        f"""\
        hook: {{type: webhook, url: "{url}", secret: hmac-key, max_attempts: {attempts}, timeout: {per_attempt}}}
        """
    )
    log = AttemptLog()
    async with HttpClient() as client:
        sender = ChannelSender(client, recorder=log, clock=clock, sleep=sleeps, rng=random.Random(1))
        deliveries = await sender.send(chans["hook"], make_notification(make_alert()))
    return list(deliveries), log


async def test_503_twice_then_200_is_delivered_exactly_once_after_three_attempts(
    http_receiver: Callable[..., HttpReceiver], clock: FakeClock, sleeps: Sleeps
) -> None:
    receiver = http_receiver([503, 503])
    (delivery,), log = await send(receiver, clock, sleeps)
    assert delivery.delivered and delivery.attempts == 3
    assert receiver.statuses == [503, 503, 200] and len(receiver.delivered()) == 1
    assert [(a.number, a.outcome, a.status_code) for a in log] == [
        (1, AttemptOutcome.RETRY, 503),
        (2, AttemptOutcome.RETRY, 503),
        (3, AttemptOutcome.DELIVERED, 200),
    ]
    first, second, _ = list(log)
    assert first.next_delay_ms is not None and 250 <= first.next_delay_ms <= 500
    assert second.next_delay_ms is not None and 500 <= second.next_delay_ms <= 1000, "exponential"
    assert sleeps.calls == [first.next_delay_ms / 1000, second.next_delay_ms / 1000]
    # what arrived is Alertmanager's JSON, signed over "<t>.<body>"
    request = receiver.delivered()[0]
    assert request.path == "/hook?token=tok-123" and request.json()["version"] == "4"
    assert verify_signature(
        "hmac-key", request.headers[SIGNATURE_HEADER.lower()], request.body, now_s=(T0 + 1_000) // 1000
    )
    assert all("tok-123" not in a.target and "tok-123" not in (a.error or "") for a in log), "no secret in attempts"


async def test_400_gets_one_attempt_and_is_not_delivered(
    http_receiver: Callable[..., HttpReceiver], clock: FakeClock, sleeps: Sleeps
) -> None:
    receiver = http_receiver(default=400)
    (delivery,), log = await send(receiver, clock, sleeps)
    assert not delivery.delivered and delivery.attempts == 1 and delivery.status_code == 400
    assert len(receiver.requests) == 1 and sleeps.calls == []
    (attempt,) = list(log)
    assert attempt.outcome is AttemptOutcome.FAILED and attempt.error == 'HTTP 400: {"error":"scripted failure"}'


async def test_5xx_until_the_last_attempt_fails(
    http_receiver: Callable[..., HttpReceiver], clock: FakeClock, sleeps: Sleeps
) -> None:
    receiver = http_receiver(default=502)
    (delivery,), log = await send(receiver, clock, sleeps, attempts=3)
    assert not delivery.delivered and len(receiver.requests) == 3
    assert [a.outcome for a in log] == [AttemptOutcome.RETRY, AttemptOutcome.RETRY, AttemptOutcome.FAILED]


async def test_timeouts_are_retried(
    http_receiver: Callable[..., HttpReceiver], clock: FakeClock, sleeps: Sleeps
) -> None:
    receiver = http_receiver(delays=[0.6])  # the first answer comes after the channel's timeout
    (delivery,), log = await send(receiver, clock, sleeps, per_attempt="300ms")
    assert delivery.delivered
    first = next(iter(log))
    assert (
        first.outcome is AttemptOutcome.RETRY
        and first.error is not None
        and first.error.startswith("timed out after 0.3 s")
    )


async def test_connection_refused_is_retried_and_the_url_token_never_recorded(clock: FakeClock, sleeps: Sleeps) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    chans = channels(f'hook: {{type: webhook, url: "http://127.0.0.1:{port}/hook?token=tok-123", max_attempts: 2}}\n')
    log = AttemptLog()
    async with HttpClient() as client:
        sender = ChannelSender(client, recorder=log, clock=clock, sleep=sleeps)
        (delivery,) = await sender.send(chans["hook"], make_notification(make_alert()))
    assert not delivery.delivered and delivery.attempts == 2
    assert [a.outcome for a in log] == [AttemptOutcome.RETRY, AttemptOutcome.FAILED]
    assert all(a.error and a.error.startswith("cannot connect: ClientConnectorError") for a in log)
    assert all(a.target == f"http://127.0.0.1:{port}/****" for a in log)
    assert not any("tok-123" in str(a.to_dict()) for a in log)
