"""Notification channels as the rules file defines them: where to send, how to group, how to retry.

A channel is ``name: {type: webhook|slack|pagerduty|email|alertmanager, ...}`` under ``channels:``;
every value may use ``${VAR}`` (see :mod:`alerting.notify.envsubst`). Decision: a channel whose
variables are unset is *disabled* with a warning (nothing is sent to it), not an error, so one rules
file serves machines that lack some credentials; a rule naming a channel that is not defined at all
is an error (the rules' reader reports it). Secrets (URLs, keys, passwords) are held as
:class:`~alerting.notify.secret.Secret` and never appear in messages.

Common keys (also accepted under the file's top-level ``defaults:``): ``group_by``, ``group_wait``,
``group_interval``, ``repeat_interval`` (Alertmanager's meanings), ``send_resolved``,
``max_attempts``, ``timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from yaml.nodes import Node, ScalarNode

from alerting.notify.envsubst import references, substitute
from alerting.notify.secret import Secret, redact_url
from alerting.rules.yamlnodes import Reader

__all__ = [
    "AlertmanagerSettings",
    "Channel",
    "ChannelSettings",
    "ChannelType",
    "EmailSettings",
    "PagerDutySettings",
    "RetryPolicy",
    "SlackSettings",
    "Timing",
    "WebhookSettings",
    "read_channel",
    "read_defaults",
]


class ChannelType(StrEnum):
    WEBHOOK = "webhook"  # Alertmanager webhook v4 JSON, HMAC-signed when a secret is set
    SLACK = "slack"  # Slack incoming webhook
    PAGERDUTY = "pagerduty"  # PagerDuty Events API v2
    EMAIL = "email"  # SMTP, plain text and HTML
    ALERTMANAGER = "alertmanager"  # push to a Prometheus Alertmanager's /api/v2/alerts


@dataclass(frozen=True, slots=True)
class Timing:
    """Alertmanager's grouping timers, with low-latency defaults (perfpulse windows are seconds)."""

    group_wait_ms: int = 1_000  # wait after a group's first alert before notifying, to batch its peers
    group_interval_ms: int = 10_000  # minimum time between notifications about changes of one group
    repeat_interval_ms: int = 4 * 3_600_000  # resend a group that is still firing, unchanged, after this


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delivery attempts of one notification; retried on timeouts, connection errors and 5xx only."""

    max_attempts: int = 5  # attempts before the notification is dead-lettered
    timeout_ms: int = 5_000  # per attempt, connect to last byte
    backoff_initial_ms: int = 500  # delay before the second attempt; doubles each attempt (with jitter)
    backoff_max_ms: int = 30_000  # cap of one delay


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    url: Secret
    secret: Secret | None = None  # HMAC-SHA256 key for the X-Perfpulse-Signature header


@dataclass(frozen=True, slots=True)
class SlackSettings:
    url: Secret  # incoming-webhook URL (its path is the token)
    channel: str | None = None  # override of the webhook's default channel
    username: str | None = None


PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


@dataclass(frozen=True, slots=True)
class PagerDutySettings:
    routing_key: Secret  # integration key of the service
    url: str = PAGERDUTY_EVENTS_URL


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 25
    username: str | None = None
    password: Secret | None = None
    tls: str = "auto"  # auto: STARTTLS when offered (required with credentials) | starttls | ssl | none


@dataclass(frozen=True, slots=True)
class AlertmanagerSettings:
    url: Secret  # base URL, e.g. http://127.0.0.1:9093 (user info allowed); alerts go to /api/v2/alerts


ChannelSettings = WebhookSettings | SlackSettings | PagerDutySettings | EmailSettings | AlertmanagerSettings


@dataclass(frozen=True, slots=True)
class Channel:
    """A configured channel. ``disabled`` is the reason nothing is sent to it, or None when enabled."""

    name: str
    type: ChannelType
    settings: ChannelSettings
    timing: Timing = Timing()
    retry: RetryPolicy = RetryPolicy()
    group_by: tuple[str, ...] = ("alertname", "service")  # labels that put alerts in one notification
    send_resolved: bool = True
    disabled: str | None = None
    secrets: tuple[Secret, ...] = field(default=(), repr=False)  # every secret value, for redaction

    @property
    def enabled(self) -> bool:
        return self.disabled is None

    def to_dict(self) -> dict[str, Any]:
        """The channel as the API lists it: no secret, URLs redacted to scheme://host:port."""
        settings = self.settings
        if isinstance(settings, EmailSettings):
            target = f"smtp://{settings.host}:{settings.port}"
        else:
            target = redact_url(settings.url)
        return {
            "name": self.name,
            "type": self.type.value,
            "target": target,
            "enabled": self.enabled,
            "disabled": self.disabled,
            "group_by": list(self.group_by),
            "group_wait_ms": self.timing.group_wait_ms,
            "group_interval_ms": self.timing.group_interval_ms,
            "repeat_interval_ms": self.timing.repeat_interval_ms,
            "send_resolved": self.send_resolved,
            "max_attempts": self.retry.max_attempts,
        }


_COMMON = frozenset(
    {"group_by", "group_wait", "group_interval", "repeat_interval", "send_resolved", "max_attempts", "timeout"}
)
_KEYS: dict[ChannelType, frozenset[str]] = {
    ChannelType.WEBHOOK: frozenset({"url", "secret"}),
    ChannelType.SLACK: frozenset({"url", "channel", "username"}),
    ChannelType.PAGERDUTY: frozenset({"routing_key", "url"}),
    ChannelType.EMAIL: frozenset({"host", "port", "from", "to", "username", "password", "tls"}),
    ChannelType.ALERTMANAGER: frozenset({"url"}),
}
_REQUIRED: dict[ChannelType, tuple[str, ...]] = {
    ChannelType.WEBHOOK: ("url",),
    ChannelType.SLACK: ("url",),
    ChannelType.PAGERDUTY: ("routing_key",),
    ChannelType.EMAIL: ("host", "from", "to"),
    ChannelType.ALERTMANAGER: ("url",),
}
_SECRET_KEYS = frozenset({"url", "secret", "routing_key", "password"})
_TLS_MODES = ("auto", "starttls", "ssl", "none")
# Alertmanager resolves alerts it has not heard of for a while, so they are resent often (as Prometheus does).
_ALERTMANAGER_TIMING = Timing(group_wait_ms=0, group_interval_ms=10_000, repeat_interval_ms=60_000)


class _Unresolved:
    """A setting holding a ``${VAR}`` reference while references are checked, not resolved."""


_UNRESOLVED = _Unresolved()


@dataclass(slots=True)
class _Common:
    timing: Timing
    retry: RetryPolicy
    group_by: tuple[str, ...]
    send_resolved: bool


def _read_common(reader: Reader, fields: Mapping[str, tuple[Node, Node]], base: _Common, what: str) -> _Common:
    out = _Common(base.timing, base.retry, base.group_by, base.send_resolved)
    timers = {
        "group_wait": "group_wait_ms",
        "group_interval": "group_interval_ms",
        "repeat_interval": "repeat_interval_ms",
    }
    for key, attr in timers.items():
        if (
            key in fields
            and (ms := reader.duration(fields[key][1], f"{what}.{key}", allow_zero=key == "group_wait")) is not None
        ):
            out.timing = replace(out.timing, **{attr: ms})
    if "timeout" in fields and (ms := reader.duration(fields["timeout"][1], f"{what}.timeout", allow_zero=False)):
        out.retry = replace(out.retry, timeout_ms=ms)
    if "max_attempts" in fields and (n := reader.integer(fields["max_attempts"][1], f"{what}.max_attempts", minimum=1)):
        out.retry = replace(out.retry, max_attempts=n)
    if (
        "send_resolved" in fields
        and (flag := reader.boolean(fields["send_resolved"][1], f"{what}.send_resolved")) is not None
    ):
        out.send_resolved = flag
    if "group_by" in fields and (labels := reader.strings(fields["group_by"][1], f"{what}.group_by")) is not None:
        out.group_by = tuple(label for label, _ in labels)
    return out


def read_defaults(reader: Reader, node: Node | None) -> _Common:
    """The file's ``defaults:`` section (common keys only; None when absent) over the built-in defaults."""
    base = _Common(Timing(), RetryPolicy(), ("alertname", "service"), True)
    if node is None:
        return base
    fields = reader.mapping(node, "defaults")
    if fields is None:
        return base
    reader.only_keys(fields, _COMMON, "defaults")
    return _read_common(reader, fields, base, "defaults")


def _check_url(reader: Reader, node: Node, what: str, value: str) -> None:
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port
    except ValueError:
        ok = False
    if not ok:  # the value is not quoted: it may hold a token
        reader.error(node, f"{what} must be an http(s) URL with a host")


def read_channel(
    reader: Reader, name: str, node: Node, env: Mapping[str, str] | None, defaults: _Common
) -> Channel | None:
    """One channel definition; problems go to ``reader``. None when it is unusable.

    ``env`` resolves ``${VAR}``. None only checks: references are checked for syntax and the
    settings holding one are not checked further, no variable is looked up, and no channel is
    returned (for text from outside, which must never see the environment).
    """
    what = f"channel {name!r}"
    fields = reader.mapping(node, what)
    if fields is None:
        return None
    if "type" not in fields:
        reader.error(node, f"{what} needs a type: one of {', '.join(t.value for t in ChannelType)}")
        return None
    type_text = reader.string(fields["type"][1], f"{what}.type")
    if type_text is None:
        return None
    if type_text not in ChannelType._value2member_map_:
        kinds = ", ".join(t.value for t in ChannelType)
        reader.error(fields["type"][1], f"{what}: unknown type {type_text!r}; expected one of {kinds}")
        return None
    kind = ChannelType(type_text)
    reader.only_keys(fields, _KEYS[kind] | _COMMON | {"type"}, what)
    # Alertmanager channels keep their own timers unless set on the channel itself: the file's defaults
    # suit people, while Alertmanager needs frequent resends to keep alerts alive (see notify/alertmanager.py).
    base = replace(defaults, timing=_ALERTMANAGER_TIMING) if kind is ChannelType.ALERTMANAGER else defaults
    common = _read_common(reader, fields, base, what)

    values: dict[str, tuple[Any, Node] | None] = {}
    missing: list[str] = []
    for key in _KEYS[kind]:
        if key in fields:
            value = _read_value(reader, key, fields[key][1], env, missing, what)
            values[key] = None if value is None else (value, fields[key][1])
    disabled = None
    if missing:
        names = ", ".join(sorted(set(missing)))
        disabled = f"environment variable(s) {names} not set"
        reader.warn(node, f"{what} is disabled: {disabled}")
    for key in _REQUIRED[kind]:
        if key not in fields:
            reader.error(node, f"{what} ({kind.value}) needs {key!r}")
            return None
        entry = values.get(key)
        if entry is None:
            return None
        if not entry[0] and disabled is None:
            reader.error(entry[1], f"{what}.{key} must not be empty")
            return None
    if disabled is None:
        url = values.get("url")
        if url is not None and url[0] is not _UNRESOLVED:
            _check_url(reader, url[1], f"{what}.url", url[0])
        if kind is ChannelType.EMAIL:
            _check_email(reader, values, what)
    if env is None:
        return None
    settings = _settings(kind, {k: v[0] for k, v in values.items() if v is not None})
    secrets = tuple(Secret(v[0]) for k, v in values.items() if k in _SECRET_KEYS and v is not None and v[0])
    return Channel(
        name, kind, settings, common.timing, common.retry, common.group_by, common.send_resolved, disabled, secrets
    )


def _read_value(
    reader: Reader, key: str, node: Node, env: Mapping[str, str] | None, missing: list[str], what: str
) -> Any:
    """One setting after ``${VAR}`` substitution; None when unusable (the error is recorded)."""
    if key == "to":
        items = reader.strings(node, f"{what}.to")
        if items is None:
            return None
        addresses = [_subst(reader, n, v, env, missing, what) for v, n in items]
        return None if None in addresses else tuple(a for a in addresses if a)
    if not isinstance(node, ScalarNode):
        reader.error(node, f"{what}.{key} must be a string")
        return None
    text = reader.text_value(node, f"{what}.{key}")
    value = None if text is None else _subst(reader, node, text, env, missing, what)
    if key != "port" or not isinstance(value, str) or not value:
        return value
    if value.strip().isdigit() and 0 < int(value) < 65536:
        return int(value)
    reader.error(node, f"{what}.port must be a TCP port (1-65535)")
    return None


def _subst(
    reader: Reader, node: Node, text: str, env: Mapping[str, str] | None, missing: list[str], what: str
) -> str | _Unresolved | None:
    """``text`` with ``${VAR}`` resolved (unset names appended to ``missing``); None after an error.

    Without ``env``, a text with references is :data:`_UNRESOLVED`.
    """
    try:
        if env is None:
            return _UNRESOLVED if references(text) else substitute(text, {})[0]
        value, unset = substitute(text, env)
    except ValueError as exc:
        reader.error(node, f"{what}: {exc}")
        return None
    missing.extend(unset)
    return value


def _check_email(reader: Reader, values: Mapping[str, tuple[Any, Node] | None], what: str) -> None:
    for key in ("from", "to"):
        entry = values.get(key)
        if entry is None:
            continue
        addresses = entry[0] if isinstance(entry[0], tuple) else (entry[0],)
        for address in addresses:
            if address is _UNRESOLVED:
                continue
            if "@" not in address or address.startswith("@") or address.endswith("@"):
                reader.error(entry[1], f"{what}.{key}: {address!r} is not an email address")
    tls = values.get("tls")
    if tls is not None and tls[0] is not _UNRESOLVED and tls[0] not in _TLS_MODES:
        reader.error(tls[1], f"{what}.tls must be one of {', '.join(_TLS_MODES)}, found {tls[0]!r}")


def _settings(kind: ChannelType, v: Mapping[str, Any]) -> ChannelSettings:
    def secret(key: str) -> Secret | None:
        return Secret(v[key]) if v.get(key) else None

    if kind is ChannelType.WEBHOOK:
        return WebhookSettings(Secret(v.get("url", "")), secret("secret"))
    if kind is ChannelType.SLACK:
        return SlackSettings(Secret(v.get("url", "")), v.get("channel") or None, v.get("username") or None)
    if kind is ChannelType.PAGERDUTY:
        return PagerDutySettings(Secret(v.get("routing_key", "")), v.get("url") or PAGERDUTY_EVENTS_URL)
    if kind is ChannelType.EMAIL:
        return EmailSettings(
            host=v.get("host", ""),
            sender=v.get("from", ""),
            to=tuple(v.get("to", ())),
            port=int(v.get("port") or 25),  # unset (a disabled channel): the default
            username=v.get("username") or None,
            password=secret("password"),
            tls=v.get("tls") or "auto",
        )
    return AlertmanagerSettings(Secret(v.get("url", "")))
