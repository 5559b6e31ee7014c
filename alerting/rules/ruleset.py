"""The rules of a rules file: loading, validating, and the :class:`Rule` and :class:`RuleSet` it yields.

The format is the spec's (section 8: ``name``, ``condition``, ``severity``, ``notification``)
extended in Prometheus's terms::

    defaults: {group_wait: 1s, group_interval: 10s, repeat_interval: 4h}   # optional, all channels
    aliases:  {response_time: http.server.duration}                        # optional, over the built-ins
    channels:
      ops-webhook: {type: webhook, url: "http://127.0.0.1:9000/hook", secret: "${HOOK_SECRET}"}
    alerts:
      - name: high_response_time
        condition: response_time.p95 > 200      # see alerting.rules.condition for the grammar
        for: 30s                                # breached this long before firing (default 0)
        keep_firing_for: 1m                     # keep firing this long after it stops (default 0)
        severity: warning                       # critical | warning | info
        notification: [ops-webhook]             # channel names, each defined under channels:
        group_by: [service]                     # one alert per distinct value (default [service])
        window: 1m                              # stats over this much data (default: one stream window)
        labels: {team: web}
        annotations: {summary: "p95 {{ $value }} ms on {{ $labels.service }}"}

One file, two readers: this module reads ``alerts:`` and ``aliases:``, and of ``channels:`` only the
names (a rule's ``notification:`` must name a defined channel). Channel settings, ``defaults:`` and
``${VAR}`` substitution belong to the notifier (:mod:`alerting.notify.channelsfile`), so evaluating
rules never touches a secret nor the environment, and rule text is never substituted.

Every problem is reported, not just the first, as :class:`~alerting.rules.yamlnodes.RuleError` with
the file, line and column. Loading never half-applies: a file with errors yields no :class:`RuleSet`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from alerting.rules.condition import DEFAULT_ALIASES, Alias, Condition, ConditionError, parse_alias, parse_condition
from alerting.rules.templates import Template, TemplateError, compile_template
from alerting.rules.yamlnodes import Reader, RuleError

__all__ = [
    "ParseResult",
    "Rule",
    "RuleError",
    "RuleSet",
    "RulesInvalid",
    "Severity",
    "load_rules",
    "parse_rules",
    "read_rules_file",
    "validate_rules",
]

_RULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_TOP_KEYS = frozenset({"alerts", "channels", "aliases", "defaults"})
_RULE_KEYS = frozenset(
    {
        "name",
        "condition",
        "severity",
        "notification",
        "for",
        "keep_firing_for",
        "labels",
        "annotations",
        "group_by",
        "window",
    }
)
_RESERVED_RULE_LABELS = frozenset({"alertname", "severity"})


class Severity(StrEnum):
    """How urgent an alert is; a firing ``critical`` alert inhibits lower ones of its group."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One alert rule, evaluated per group at every window close."""

    name: str
    condition: Condition
    severity: Severity = Severity.WARNING
    notification: tuple[str, ...] = ()  # channel names
    for_ms: int = 0  # breached at least this long (ms) before pending becomes firing
    keep_firing_for_ms: int = 0  # stays firing this long (ms) after the condition stops holding
    labels: Mapping[str, str] = field(default_factory=dict)  # added to every alert of the rule
    annotations: Mapping[str, Template] = field(default_factory=dict)
    group_by: tuple[str, ...] = ("service",)  # label names; () evaluates all matching series as one group
    window_ms: int | None = None  # evaluation window (ms); None: the stream window
    line: int = 0  # where the rule starts in its file (1-based), for messages

    def alert_labels(self, group: Mapping[str, str]) -> dict[str, str]:
        """An alert's identity: ``alertname``, ``severity``, the group's labels, then the rule's labels."""
        return {"alertname": self.name, "severity": self.severity.value, **group, **self.labels}

    def to_dict(self) -> dict[str, Any]:
        """The rule as the API lists it (JSON-able)."""
        return {
            "name": self.name,
            "condition": self.condition.text,
            "severity": self.severity.value,
            "notification": list(self.notification),
            "for_ms": self.for_ms,
            "keep_firing_for_ms": self.keep_firing_for_ms,
            "labels": dict(self.labels),
            "annotations": {k: t.source for k, t in self.annotations.items()},
            "group_by": list(self.group_by),
            "window_ms": self.window_ms,
            "line": self.line,
        }

    def render_annotations(self, value: float, labels: Mapping[str, str]) -> dict[str, str]:
        """Annotations for an alert whose value is ``value``; a ``summary`` is made up when missing."""
        out = {
            k: t.render(value=value, threshold=self.condition.threshold, labels=labels)
            for k, t in self.annotations.items()
        }
        if "summary" not in out:
            where = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in _RESERVED_RULE_LABELS)
            out["summary"] = f"{self.name}: {self.condition} (value {value:g}{'; ' + where if where else ''})"
        return out


@dataclass(frozen=True, slots=True, eq=False)
class RuleSet:
    """The rules of a validated rules file: rules in file order, aliases by name."""

    rules: tuple[Rule, ...] = ()
    aliases: Mapping[str, Alias] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    file: str = "<none>"
    digest: str = ""  # sha256 of the file's text: equal digests, equal rules

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


@dataclass(frozen=True, slots=True)
class ParseResult:
    rules: RuleSet | None  # None when there are errors
    errors: tuple[RuleError, ...]


class RulesInvalid(ValueError):
    """A rules file with errors; ``errors`` lists each with its position."""

    def __init__(self, file: str, errors: tuple[RuleError, ...] | list[RuleError]) -> None:
        self.file = file
        self.errors = tuple(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"cannot load rules from {file}: {len(self.errors)} error(s)\n{lines}")


def _aliases(reader: Reader, node: Node) -> dict[str, Alias]:
    out = dict(DEFAULT_ALIASES)
    fields = reader.mapping(node, "aliases")
    for name, (key_node, value_node) in (fields or {}).items():
        text = reader.string(value_node, f"alias {name!r}")
        if text is None:
            continue
        try:
            out[name] = parse_alias(name, text)
        except ConditionError as exc:
            reader.error(
                key_node if exc.reason.startswith("alias name") else value_node,
                f"alias {name!r}: {exc.reason}",
                exc.offset,
            )
    return out


def _rule(
    reader: Reader,
    node: Node,
    index: int,
    aliases: Mapping[str, Alias],
    channels: frozenset[str],
    window_ms: int | None,
) -> Rule | None:
    fields = reader.mapping(node, f"alert #{index + 1}")
    if fields is None:
        return None
    name = reader.string(fields["name"][1], f"alert #{index + 1}: name") if "name" in fields else None
    what = f"alert {name!r}" if name else f"alert #{index + 1}"
    reader.only_keys(fields, _RULE_KEYS, what)
    errors_before = len(reader.errors)
    if "name" not in fields:
        reader.error(node, f"{what} needs a name")
    elif name is not None and not _RULE_NAME.fullmatch(name):
        reader.error(
            fields["name"][1], f"{what}: the name must start with a letter or '_' and use only [A-Za-z0-9_.:-]"
        )
    condition = None
    if "condition" not in fields:
        reader.error(node, f"{what} needs a condition, e.g. 'response_time.p95 > 200'")
    elif (text := reader.string(fields["condition"][1], f"{what}: condition")) is not None:
        try:
            condition = parse_condition(text, aliases)
        except ConditionError as exc:
            reader.error(fields["condition"][1], f"{what}: {exc.reason}", exc.offset)
    severity = Severity.WARNING
    if "severity" in fields and (level := reader.string(fields["severity"][1], f"{what}: severity")) is not None:
        if level in Severity._value2member_map_:
            severity = Severity(level)
        else:
            reader.error(
                fields["severity"][1], f"{what}: unknown severity {level!r}; expected critical, warning or info"
            )
    notification: list[str] = []
    if "notification" in fields:
        for channel, channel_node in reader.strings(fields["notification"][1], f"{what}: notification") or []:
            if channel not in channels:
                known = ", ".join(sorted(channels)) or "none"
                reader.error(
                    channel_node, f"{what}: channel {channel!r} is not defined under channels: (defined: {known})"
                )
            elif channel in notification:
                reader.error(channel_node, f"{what}: channel {channel!r} is listed twice")
            else:
                notification.append(channel)
    durations = {}
    for key in ("for", "keep_firing_for", "window"):
        if key in fields:
            durations[key] = reader.duration(fields[key][1], f"{what}: {key}", allow_zero=key != "window")
    rule_window = durations.get("window")
    if rule_window is not None and window_ms is not None and (rule_window < window_ms or rule_window % window_ms):
        reader.error(fields["window"][1], f"{what}: window must be a multiple of the stream window ({window_ms} ms)")
    labels = _labels(reader, fields["labels"][1], what) if "labels" in fields else {}
    annotations = _annotations(reader, fields["annotations"][1], what) if "annotations" in fields else {}
    group_by = _group_by(reader, fields["group_by"][1], what) if "group_by" in fields else ("service",)
    if len(reader.errors) > errors_before or name is None or condition is None:
        return None
    return Rule(
        name=name,
        condition=condition,
        severity=severity,
        notification=tuple(notification),
        for_ms=durations.get("for") or 0,
        keep_firing_for_ms=durations.get("keep_firing_for") or 0,
        labels=labels,
        annotations=annotations,
        group_by=group_by,
        window_ms=rule_window,
        line=node.start_mark.line + 1,
    )


def _group_by(reader: Reader, node: Node, what: str) -> tuple[str, ...]:
    out: list[str] = []
    for label, label_node in reader.strings(node, f"{what}: group_by") or []:
        if not _LABEL_NAME.fullmatch(label):
            reader.error(label_node, f"{what}: group_by: {label!r} is not a label name")
        elif label in out:
            reader.error(label_node, f"{what}: group_by: {label!r} is listed twice")
        else:
            out.append(label)
    if "service" not in out:
        # The stream stage evaluates each source partition alone, and a service's data is whole in
        # one partition (records are keyed by service): a group must not span services.
        reader.error(node, f"{what}: group_by must include 'service' (each group is evaluated within one service)")
    return tuple(out)


def _labels(reader: Reader, node: Node, what: str) -> dict[str, str]:
    out = {}
    for key, (value, value_node) in (reader.string_map(node, f"{what}: labels") or {}).items():
        if not _LABEL_NAME.fullmatch(key):
            reader.error(value_node, f"{what}: labels: {key!r} is not a label name")
        elif key in _RESERVED_RULE_LABELS:
            reader.error(value_node, f"{what}: labels: {key!r} is set by the rule itself (use name: / severity:)")
        else:
            out[key] = value
    return out


def _annotations(reader: Reader, node: Node, what: str) -> dict[str, Template]:
    out = {}
    for key, (source, value_node) in (reader.string_map(node, f"{what}: annotations") or {}).items():
        try:
            out[key] = compile_template(source)
        except TemplateError as exc:
            reader.error(value_node, f"{what}: annotation {key!r}: {exc.reason}", exc.offset)
    return out


def _channel_names(reader: Reader, node: Node) -> frozenset[str]:
    """The names defined under ``channels:``; their settings are the notifier's to read."""
    return frozenset(reader.mapping(node, "channels") or {})


def parse_rules(text: str, *, file: str = "<rules>", window_ms: int | None = None) -> ParseResult:
    """Parse and validate the rules of a rules file's ``text``.

    ``window_ms``, when given, is the stream window: rule windows must be multiples of it.
    """
    reader = Reader(file, text)
    root, top = reader.document()
    if root is None and top is not None:
        return ParseResult(None, (RuleError(file, 1, 1, "the rules file is empty: expected 'alerts:'"),))
    if root is None or top is None:
        return ParseResult(None, tuple(reader.errors))
    reader.only_keys(top, _TOP_KEYS, "the rules file")
    aliases = _aliases(reader, top["aliases"][1]) if "aliases" in top else dict(DEFAULT_ALIASES)
    channels = _channel_names(reader, top["channels"][1]) if "channels" in top else frozenset()
    rules: list[Rule] = []
    if "alerts" not in top:
        reader.error(root, "the rules file needs 'alerts:' (a list of rules; may be empty)")
    else:
        seen: dict[str, int] = {}
        for index, node in enumerate(reader.sequence(top["alerts"][1], "alerts") or []):
            rule = _rule(reader, node, index, aliases, channels, window_ms)
            if rule is None:
                continue
            if rule.name in seen:
                reader.error(node, f"alert {rule.name!r} is defined twice (first at line {seen[rule.name]})")
                continue
            seen[rule.name] = rule.line
            rules.append(rule)
    if reader.errors:
        return ParseResult(None, tuple(reader.errors))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return ParseResult(RuleSet(rules=tuple(rules), aliases=aliases, file=file, digest=digest), ())


def read_rules_file(path: str | Path) -> tuple[str | None, RuleError | None]:
    """The text of the rules file at ``path``, or the error that says why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, RuleError(str(path), 1, 1, f"cannot read the rules file: {exc.__class__.__name__}: {exc}")


def load_rules(path: str | Path, *, window_ms: int | None = None) -> RuleSet:
    """Load the rules of ``path``; raises :class:`RulesInvalid` listing every error."""
    text, error = read_rules_file(path)
    if text is None:
        raise RulesInvalid(str(path), [error] if error else [])
    result = parse_rules(text, file=str(path), window_ms=window_ms)
    if result.rules is None:
        raise RulesInvalid(str(path), result.errors)
    return result.rules


def validate_rules(path: str | Path, *, window_ms: int | None = None) -> list[RuleError]:
    """Every error of the rules of the file at ``path`` (empty when they are valid)."""
    text, error = read_rules_file(path)
    if text is None:
        return [error] if error else []
    return list(parse_rules(text, file=str(path), window_ms=window_ms).errors)
