"""The OpenAPI models of the alerts, silences and rules answers (:mod:`api.models` holds the others).

Routes declare these as ``response_model`` and return the dicts they build, which FastAPI validates
and serializes in the models' field order: each model lists its fields in the order of the dict it
describes, so the answer is the dict as built. The models forbid unknown fields: a field added to a
dict and not here fails the route's tests (validating real answers) rather than vanishing. Every
``*_ms`` and ``at`` is epoch milliseconds except ``duration_ms``, ``next_delay_ms``, ``for_ms``,
``keep_firing_for_ms``, ``window_ms`` and the ``group_*_ms``/``repeat_interval_ms`` timers (durations).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alerting.notify.channels import ChannelType
from alerting.notify.silences import SilenceState
from alerting.rules import State
from alerting.rules.ruleset import Severity

__all__ = [
    "ActiveAlerts",
    "AlertAttempts",
    "AlertHistory",
    "AlertOut",
    "AlertSnapshot",
    "AttemptOut",
    "ChannelOut",
    "DeadLetterOut",
    "DeadLetters",
    "DeliveryOut",
    "HistoryEntryOut",
    "MatcherOut",
    "NotificationSummary",
    "Queued",
    "Redelivery",
    "RuleAnswer",
    "RuleDeleted",
    "RuleFileProblem",
    "RuleOut",
    "RuleWritten",
    "RulesList",
    "RulesValidation",
    "SilenceList",
    "SilenceOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- /api/v1/alerts


class AlertSnapshot(_Out):
    """An alert as a notification carried it."""

    rule: str
    labels: dict[str, str] = Field(description="its identity: alertname, severity, group and rule labels")
    group: dict[str, str] = Field(description="the group's labels alone (the rule's group_by values)")
    annotations: dict[str, str]
    severity: str
    state: State
    value: float | None = Field(description="the value compared with the threshold; null: no data")
    active_at_ms: int | None = Field(description="condition holding since")
    fired_at_ms: int | None
    resolved_at_ms: int | None
    channels: list[str]
    fingerprint: str = Field(description="16 hex digits, stable for a label set")


class AlertOut(AlertSnapshot):
    """An active alert, with what mutes it."""

    silenced_by: list[str] = Field(description="ids of the active silences matching it")
    inhibited_by: str | None = Field(description="fingerprint of the firing alert inhibiting it")
    since: int | None = Field(description="epoch ms it entered its state")


class ActiveAlerts(_Out):
    alerts: list[AlertOut] = Field(description="pending, firing and recently resolved; firing first")


class HistoryEntryOut(_Out):
    at: int = Field(description="evaluation time of the transition (a window end), epoch ms")
    rule: str
    fingerprint: str
    state: State = Field(description="the state entered")
    previous: State = Field(description="the state left")
    value: float | None
    severity: str
    labels: dict[str, str]
    group: dict[str, str]
    annotations: dict[str, str]
    active_at: int | None
    fired_at: int | None
    resolved_at: int | None
    channels: list[str]


class AlertHistory(_Out):
    history: list[HistoryEntryOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class NotificationSummary(_Out):
    id: str
    channel: str
    group_key: str
    group_labels: dict[str, str]
    status: Literal["firing", "resolved"]
    at_ms: int = Field(description="flush time")
    alerts: list[AlertSnapshot]


class DeadLetterOut(_Out):
    id: str
    channel: str
    target: str = Field(description="redacted destination: scheme://host:port/")
    attempts: int
    reason: str
    at_ms: int
    notification: NotificationSummary


class DeadLetters(_Out):
    dead_letters: list[DeadLetterOut]


class DeliveryOut(_Out):
    delivered: bool
    attempts: int
    target: str = Field(description="redacted destination")
    status_code: int | None = Field(description="HTTP status or SMTP reply code")
    error: str | None


class Redelivery(_Out):
    """What the notifier did with a redelivered notification."""

    delivered: bool
    notification_id: str
    deliveries: list[DeliveryOut]
    dead_letter: DeadLetterOut | None = Field(description="the new dead letter when it was not delivered")


class Queued(_Out):
    queued: str = Field(description="the command's sequence number; the notifier has not applied it yet")


class AttemptOut(_Out):
    at: int = Field(description="start of the attempt, epoch ms")
    channel: str
    rule: str
    notification_id: str
    group_key: str
    target: str = Field(description="redacted destination")
    number: int = Field(description="1-based attempt number")
    duration_ms: int
    outcome: Literal["delivered", "retry", "failed"]
    status_code: int | None = Field(description="HTTP status or SMTP reply code")
    error: str | None = Field(description="why it did not succeed, free of secrets")
    next_delay_ms: int | None = Field(description="backoff before the next attempt, when one follows")
    dead_lettered: bool = Field(description="this attempt ended the notification undelivered")


class AlertAttempts(_Out):
    fingerprint: str
    attempts: list[AttemptOut] = Field(description="newest first")


# --- /api/v1/silences


class MatcherOut(_Out):
    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str


class SilenceOut(_Out):
    id: str
    matchers: list[MatcherOut] = Field(description="all must match an alert's labels")
    matchers_text: str = Field(description='the matchers as text: service="gateway", alertname=~"high_.*"')
    starts_at_ms: int = Field(description="inclusive")
    ends_at_ms: int = Field(description="exclusive")
    comment: str
    creator: str
    created_at_ms: int
    state: SilenceState
    created_by: str = Field(description="the same as creator")


class SilenceList(_Out):
    silences: list[SilenceOut] = Field(description="soonest ending first")


# --- /api/v1/rules


class RuleOut(_Out):
    name: str
    condition: str
    severity: Severity
    notification: list[str] = Field(description="channel names")
    for_ms: int = Field(description="breached this long before firing")
    keep_firing_for_ms: int
    labels: dict[str, str]
    annotations: dict[str, str] = Field(description="templates, as written")
    group_by: list[str]
    window_ms: int | None = Field(description="evaluation window; null: the stream window")
    line: int = Field(description="where the rule starts in the rules file (1-based)")


class ChannelOut(_Out):
    name: str
    type: ChannelType
    target: str = Field(description="redacted: scheme://host:port/ (email: smtp://host:port)")
    enabled: bool
    disabled: str | None = Field(description="why nothing is sent to it; null when enabled")
    group_by: list[str]
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int
    send_resolved: bool
    max_attempts: int


class RuleFileProblem(_Out):
    file: str
    line: int = Field(description="1-based")
    column: int = Field(description="1-based")
    reason: str


class RulesList(_Out):
    file: str = Field(description="the rules file")
    loaded: bool = Field(description="rules are in force (the last valid ones when the file does not load)")
    rules: list[RuleOut]
    channels: list[ChannelOut]
    errors: list[RuleFileProblem] = Field(description="the file on disk's problems, when it does not load")
    warnings: list[str]


class RuleAnswer(_Out):
    rule: RuleOut


class RuleWritten(_Out):
    rule: RuleOut | None = Field(description="the rule as now in force")
    file: str


class RuleDeleted(_Out):
    deleted: str = Field(description="the rule's name")
    file: str


class RulesValidation(_Out):
    valid: bool
    errors: list[RuleFileProblem]
    warnings: list[str]
