"""Notifications: the channels of the rules file, payloads per channel, delivery with retries,
grouping, silences, inhibition, and the :class:`Notifier` that drives them. One module per concern
or channel, as Prometheus's ``notifier/``.

- Channels: :func:`load_channels` / :func:`parse_channels` (``${VAR}`` resolved from the env passed
  in), :func:`check_channels` (never resolved), :class:`ChannelsWatcher` (reload on change), and
  :class:`FileCheck` (a rules file checked by both its readers).
"""

from alerting.notify.channels import Channel, ChannelType, RetryPolicy, Timing
from alerting.notify.channelsfile import (
    ChannelsResult,
    ChannelsWatcher,
    FileCheck,
    check_channels,
    load_channels,
    parse_channels,
)
from alerting.notify.delivery import AttemptResult, backoff_ms, deliver, http_attempt
from alerting.notify.grouping import Grouper, needs_update
from alerting.notify.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule, inhibited_by
from alerting.notify.model import Attempt, AttemptOutcome, DeadLetter, Delivery, HttpRequest, Notification, Recorder
from alerting.notify.notifier import AlertStatus, Notifier, SendResult
from alerting.notify.sender import AttemptLog, ChannelSender, Sender, build_requests
from alerting.notify.silences import Silence, SilenceError, Silences, SilenceState
from alerting.notify.webhook import SIGNATURE_HEADER, sign, verify_signature, webhook_payload

__all__ = [
    "DEFAULT_INHIBIT_RULES",
    "SIGNATURE_HEADER",
    "AlertStatus",
    "Attempt",
    "AttemptLog",
    "AttemptOutcome",
    "AttemptResult",
    "Channel",
    "ChannelSender",
    "ChannelType",
    "ChannelsResult",
    "ChannelsWatcher",
    "DeadLetter",
    "Delivery",
    "FileCheck",
    "Grouper",
    "HttpRequest",
    "InhibitRule",
    "Notification",
    "Notifier",
    "Recorder",
    "RetryPolicy",
    "SendResult",
    "Sender",
    "Silence",
    "SilenceError",
    "SilenceState",
    "Silences",
    "Timing",
    "backoff_ms",
    "build_requests",
    "check_channels",
    "deliver",
    "http_attempt",
    "inhibited_by",
    "load_channels",
    "needs_update",
    "parse_channels",
    "sign",
    "verify_signature",
    "webhook_payload",
]
