"""Email over SMTP: one message per notification, plain text and HTML alternatives.

Sent with the standard library's ``smtplib`` in a worker thread (no extra dependency; one message per
notification is far below where an async SMTP client would matter). TLS: ``auto`` uses STARTTLS when
the server offers it and refuses to send credentials without it; ``starttls`` requires it; ``ssl``
is implicit TLS (port 465); ``none`` never encrypts (a local relay). SMTP 4xx replies and
connection problems are transient (retried); 5xx replies are permanent.
"""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerting.notify.channels import EmailSettings
from alerting.notify.delivery import AttemptFn, AttemptResult
from alerting.notify.model import Notification, rfc3339
from alerting.notify.secret import Secret, redact_text
from alerting.rules.state import State

__all__ = ["build_email", "smtp_attempt"]


def _plain(notification: Notification) -> str:
    lines = [notification.title(), ""]
    for alert in notification.alerts:
        lines.append(f"{alert.state.value.upper()}: {alert.annotations.get('summary', alert.rule)}")
        lines.append(f"  value: {alert.value:g}")
        lines.append(f"  since: {rfc3339(alert.fired_at_ms or alert.active_at_ms)}")
        if alert.state is State.RESOLVED:
            lines.append(f"  resolved: {rfc3339(alert.resolved_at_ms)}")
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
        lines.extend(f"  {k}: {v}" for k, v in sorted(alert.annotations.items()) if k != "summary")
        lines.append("")
    return "\n".join(lines)


def _html(notification: Notification) -> str:
    e = html.escape
    rows = []
    for alert in notification.alerts:
        color = "#d63232" if alert.state is State.FIRING else "#2eb67d"
        labels = "<br>".join(f"{e(k)}={e(v)}" for k, v in sorted(alert.labels.items()))
        rows.append(
            f'<tr><td style="color:{color};font-weight:bold">{e(alert.state.value)}</td>'
            f"<td>{e(alert.annotations.get('summary', alert.rule))}</td><td>{alert.value:g}</td>"
            f"<td>{e(rfc3339(alert.fired_at_ms or alert.active_at_ms))}</td><td>{labels}</td></tr>"
        )
    return (
        f"<html><body><h2>{e(notification.title())}</h2>"
        '<table border="1" cellpadding="4" cellspacing="0">'
        "<tr><th>state</th><th>summary</th><th>value</th><th>since</th><th>labels</th></tr>"
        f"{''.join(rows)}</table></body></html>"
    )


def build_email(settings: EmailSettings, notification: Notification) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = notification.title()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Date"] = formatdate(notification.at_ms / 1000, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=notification.id, domain="perfpulse")
    message.set_content(_plain(notification))
    message.add_alternative(_html(notification), subtype="html")
    return message


def _send(settings: EmailSettings, message: EmailMessage, timeout_s: float) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.tls == "ssl":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout_s)
    with smtp:
        smtp.ehlo()
        if settings.tls in ("auto", "starttls"):
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif settings.tls == "starttls" or settings.username:
                raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS, which is required here")
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password.reveal())
        smtp.send_message(message)


def smtp_attempt(settings: EmailSettings, message: EmailMessage) -> AttemptFn:
    """An attempt function that sends ``message`` through the channel's SMTP server."""
    secrets: tuple[Secret, ...] = (settings.password,) if settings.password else ()

    async def send(timeout_s: float) -> AttemptResult:
        try:
            await asyncio.to_thread(_send, settings, message, timeout_s)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            retriable = all(400 <= code < 500 for code in codes)
            return AttemptResult(
                False,
                retriable,
                codes[0] if codes else None,
                "recipients refused: " + ", ".join(sorted(exc.recipients)),
            )
        except smtplib.SMTPResponseException as exc:
            reason = (
                exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            )
            error = redact_text(f"SMTP {exc.smtp_code}: {reason}", secrets)
            return AttemptResult(False, 400 <= exc.smtp_code < 500, exc.smtp_code, error)
        except smtplib.SMTPNotSupportedError as exc:
            return AttemptResult(False, False, None, f"cannot send: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return AttemptResult(False, False, None, f"cannot verify the server's certificate: {exc.verify_message}")
        except TimeoutError as exc:
            return AttemptResult(False, True, None, f"timed out after {timeout_s:g} s ({type(exc).__name__})")
        except (smtplib.SMTPException, OSError) as exc:
            return AttemptResult(
                False, True, None, redact_text(f"cannot connect: {type(exc).__name__}: {exc}", secrets)
            )
        return AttemptResult(True, False, 250)

    return send
