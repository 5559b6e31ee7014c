"""Email through a real local SMTP server (aiosmtpd): both parts, transient and permanent refusals."""

from __future__ import annotations

from alerting.notify.httpclient import HttpClient
from alerting.notify.model import AttemptOutcome, Delivery
from alerting.notify.sender import AttemptLog, ChannelSender
from alerting.rules.state import State
from tests.alerting.conftest import FakeClock, Sleeps
from tests.alerting.notify.helpers import channels, make_alert, make_notification
from tests.alerting.receivers import MailBox


async def send_mail(port: int, clock: FakeClock, sleeps: Sleeps, extra: str = "") -> tuple[Delivery, AttemptLog]:
    chans = channels(
        f'mail: {{type: email, host: 127.0.0.1, port: {port}, from: "perfpulse@example.com", '
        f'to: ["ops@example.com", "dev@example.com"], max_attempts: 3{extra}}}\n'
    )
    notification = make_notification(
        make_alert(channels=("mail",)),
        make_alert(rule="memory_threshold", state=State.RESOLVED, value=0.7, channels=("mail",)),
        channel="mail",
    )
    log = AttemptLog()
    async with HttpClient() as client:
        (delivery,) = await ChannelSender(client, recorder=log, clock=clock, sleep=sleeps).send(
            chans["mail"], notification
        )
    return delivery, log


async def test_email_has_plain_text_and_html(
    smtp_server: tuple[MailBox, int], clock: FakeClock, sleeps: Sleeps
) -> None:
    box, port = smtp_server
    delivery, log = await send_mail(port, clock, sleeps)
    assert delivery.delivered and delivery.target == f"smtp://127.0.0.1:{port}"
    (message,) = box.messages
    assert box.envelopes == [("perfpulse@example.com", ["ops@example.com", "dev@example.com"])]
    assert message["Subject"] == "[FIRING:1] high_response_time, memory_threshold (service=gateway)"
    assert message["From"] == "perfpulse@example.com" and message["To"] == "ops@example.com, dev@example.com"
    assert message.is_multipart() and message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text = plain.get_content()
    assert "FIRING: high_response_time on gateway: 250" in text and "RESOLVED: memory_threshold on gateway: 0.7" in text
    assert "labels: alertname=high_response_time, service=gateway, severity=warning" in text
    markup = html.get_content()
    assert "<table" in markup and "high_response_time on gateway: 250" in markup and "#2eb67d" in markup
    assert [a.outcome for a in log] == [AttemptOutcome.DELIVERED]


async def test_transient_smtp_refusal_is_retried(
    smtp_server: tuple[MailBox, int], clock: FakeClock, sleeps: Sleeps
) -> None:
    box, port = smtp_server
    box.refuse.append("451 4.3.0 Try again later")
    delivery, log = await send_mail(port, clock, sleeps)
    assert delivery.delivered and len(box.messages) == 1
    assert [(a.outcome, a.status_code) for a in log] == [(AttemptOutcome.RETRY, 451), (AttemptOutcome.DELIVERED, 250)]


async def test_permanent_smtp_refusal_is_not_retried(
    smtp_server: tuple[MailBox, int], clock: FakeClock, sleeps: Sleeps
) -> None:
    box, port = smtp_server
    box.refuse.append("554 5.7.1 Message rejected")
    delivery, log = await send_mail(port, clock, sleeps)
    assert not delivery.delivered and delivery.attempts == 1 and box.messages == []
    (attempt,) = list(log)
    assert attempt.outcome is AttemptOutcome.FAILED and attempt.error == "SMTP 554: 5.7.1 Message rejected"


async def test_credentials_are_never_sent_without_tls(
    smtp_server: tuple[MailBox, int], clock: FakeClock, sleeps: Sleeps
) -> None:
    box, port = smtp_server
    delivery, log = await send_mail(port, clock, sleeps, extra=", username: u, password: pa55word")
    assert not delivery.delivered and delivery.attempts == 1 and box.messages == []
    (attempt,) = list(log)
    assert "does not offer STARTTLS" in (attempt.error or "") and "pa55word" not in str(attempt.to_dict())
