"""The one place channels meet the network: builds each channel's requests and delivers them.

:class:`ChannelSender` is the default :class:`Sender` of the :class:`~alerting.notify.notifier.Notifier`;
its HTTP client, clock, sleep and random source are injected, so tests send to real local receivers
without waiting out the backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Iterator
from typing import Protocol

from alerting.notify.alertmanager import build_alertmanager
from alerting.notify.channels import (
    AlertmanagerSettings,
    Channel,
    EmailSettings,
    PagerDutySettings,
    SlackSettings,
    WebhookSettings,
)
from alerting.notify.delivery import AttemptFn, Sleep, deliver, http_attempt, wall_clock_ms
from alerting.notify.email import build_email, smtp_attempt
from alerting.notify.httpclient import HttpClient
from alerting.notify.model import Attempt, AttemptOutcome, Clock, Delivery, HttpRequest, Notification, Recorder
from alerting.notify.pagerduty import build_pagerduty
from alerting.notify.slack import build_slack
from alerting.notify.webhook import build_webhook

__all__ = ["AttemptLog", "ChannelSender", "Sender", "build_requests"]

log = logging.getLogger("alerting.notify")


class Sender(Protocol):
    """Delivers one notification to one channel; one :class:`Delivery` per request made."""

    async def send(self, channel: Channel, notification: Notification) -> list[Delivery]: ...


class AttemptLog:
    """A bounded in-memory :data:`Recorder` (newest last) that also logs each attempt, without secrets."""

    def __init__(self, limit: int = 1000) -> None:
        self._attempts: deque[Attempt] = deque(maxlen=limit)

    def __call__(self, attempt: Attempt) -> None:
        self._attempts.append(attempt)
        level = logging.INFO if attempt.outcome is AttemptOutcome.DELIVERED else logging.WARNING
        log.log(
            level,
            "notification %s to %s (%s) attempt %d: %s%s",
            attempt.notification_id,
            attempt.channel,
            attempt.target,
            attempt.number,
            attempt.outcome.value,
            f" ({attempt.error})" if attempt.error else "",
        )

    def __iter__(self) -> Iterator[Attempt]:
        return iter(list(self._attempts))

    def __len__(self) -> int:
        return len(self._attempts)


def build_requests(channel: Channel, notification: Notification, *, external_url: str = "") -> list[HttpRequest]:
    """The HTTP requests ``channel`` makes for ``notification`` (none for email, which is SMTP)."""
    settings = channel.settings
    if isinstance(settings, WebhookSettings):
        return build_webhook(settings, notification, external_url=external_url)
    if isinstance(settings, SlackSettings):
        return build_slack(settings, notification)
    if isinstance(settings, PagerDutySettings):
        return build_pagerduty(settings, notification, external_url=external_url)
    if isinstance(settings, AlertmanagerSettings):
        valid_for = 4 * channel.timing.repeat_interval_ms
        return build_alertmanager(settings, notification, valid_for_ms=valid_for, external_url=external_url)
    return []


class ChannelSender:
    """Sends notifications over HTTP (``client``) and SMTP, retrying per the channel's policy."""

    def __init__(
        self,
        client: HttpClient,
        *,
        recorder: Recorder,
        clock: Clock = wall_clock_ms,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        external_url: str = "",
    ) -> None:
        self._client = client
        self._recorder = recorder
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._external_url = external_url

    async def send(self, channel: Channel, notification: Notification) -> list[Delivery]:
        if isinstance(channel.settings, EmailSettings):
            settings = channel.settings
            attempt = smtp_attempt(settings, build_email(settings, notification))
            return [await self._deliver(attempt, f"smtp://{settings.host}:{settings.port}", channel, notification)]
        requests = build_requests(channel, notification, external_url=self._external_url)
        deliveries = (self._deliver(http_attempt(self._client, r), r.target, channel, notification) for r in requests)
        return list(await asyncio.gather(*deliveries))

    async def _deliver(self, attempt: AttemptFn, target: str, channel: Channel, notification: Notification) -> Delivery:
        return await deliver(
            attempt,
            policy=channel.retry,
            notification_id=notification.id,
            channel=channel.name,
            target=target,
            recorder=self._recorder,
            clock=self._clock,
            sleep=self._sleep,
            rng=self._rng,
        )
