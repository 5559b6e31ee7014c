"""The channels of a rules file: read, checked, watched, and the file checked by both its readers.

The rules file is one file with ``alerts:``, ``aliases:``, ``channels:`` and ``defaults:``, read by
two readers of the same text: :mod:`alerting.rules` takes the rules (and of ``channels:`` only the
names, which rules refer to), this module takes the channel settings and ``defaults:``, with
``${VAR}`` substitution and secrets (:mod:`alerting.notify.channels`). So the stream stage, which
evaluates rules, never reads a secret nor the environment. Both report problems as
:class:`~alerting.rules.RuleError` (``file:line:column: reason``); :class:`FileCheck` joins them
for whoever checks the whole file (``perfpulse rules validate``, the rules API).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from alerting.notify.channels import Channel, read_channel, read_defaults
from alerting.rules.ruleset import ParseResult, RuleSet, read_rules_file
from alerting.rules.watch import FileStamp
from alerting.rules.yamlnodes import Reader, RuleError, RuleWarning

__all__ = ["ChannelsResult", "ChannelsWatcher", "FileCheck", "check_channels", "load_channels", "parse_channels"]


@dataclass(frozen=True, slots=True)
class ChannelsResult:
    channels: Mapping[str, Channel] | None  # by name; None when there are errors, or when only checked
    errors: tuple[RuleError, ...]
    warnings: tuple[RuleWarning, ...]  # e.g. a channel disabled because a variable it uses is unset


def _read(text: str, file: str, env: Mapping[str, str] | None) -> ChannelsResult:
    reader = Reader(file, text)
    _, top = reader.document()
    top = top or {}
    defaults = read_defaults(reader, top["defaults"][1] if "defaults" in top else None)
    channels: dict[str, Channel] = {}
    if "channels" in top:
        for name, (_, node) in (reader.mapping(top["channels"][1], "channels") or {}).items():
            channel = read_channel(reader, name, node, env, defaults)
            if channel is not None:
                channels[name] = channel
    found = None if reader.errors or env is None else channels
    return ChannelsResult(found, tuple(reader.errors), tuple(reader.warnings))


def parse_channels(text: str, *, file: str = "<rules>", env: Mapping[str, str]) -> ChannelsResult:
    """The channels of a rules file's ``text``, ``${VAR}`` resolved from ``env``.

    ``env`` is the environment of the process that sends, passed from the edge (settings or the
    CLI). A channel whose variables are unset is disabled with a warning, not an error.
    """
    return _read(text, file, env)


def check_channels(text: str, *, file: str = "<rules>") -> ChannelsResult:
    """The problems of the channels of ``text``, without resolving ``${VAR}`` (``channels`` is None).

    For text from outside (the rules API): the environment is never consulted, so no answer can
    show a variable's value or whether it is set. References are checked for syntax; a setting
    holding one is not checked further.
    """
    return _read(text, file, None)


def load_channels(path: str | Path, *, env: Mapping[str, str]) -> ChannelsResult:
    """The channels of the rules file at ``path`` (see :func:`parse_channels`)."""
    text, error = read_rules_file(path)
    if text is None:
        return ChannelsResult(None, (error,) if error else (), ())
    return parse_channels(text, file=str(path), env=env)


@dataclass(frozen=True, slots=True)
class FileCheck:
    """One rules file as both readers see it: valid when neither reports an error."""

    rules: RuleSet | None  # None when the rules have errors
    channels: Mapping[str, Channel] | None  # None when the channels have errors or were only checked
    errors: tuple[RuleError, ...]  # of both readers, each once, in file order
    warnings: tuple[RuleWarning, ...]

    @classmethod
    def of(cls, rules: ParseResult, channels: ChannelsResult) -> FileCheck:
        """Join the readings of one text. Problems both readers see (YAML syntax, the file not a
        mapping, ``channels:`` not a mapping) are reported once."""
        errors = sorted(dict.fromkeys(rules.errors + channels.errors), key=lambda e: (e.line, e.column))
        return cls(rules.rules, channels.channels, tuple(errors), channels.warnings)

    @property
    def valid(self) -> bool:
        return not self.errors


OnChannels = Callable[[Mapping[str, Channel]], None]  # the channels now in force, called after a change


class ChannelsWatcher:
    """Holds the channels of one rules file for the notifier; ``current`` is None until a load succeeds.

    As :class:`~alerting.rules.RulesWatcher` does for rules: :meth:`poll` costs one ``stat``, and a
    file whose channels have errors leaves the channels in force unchanged.
    """

    def __init__(self, path: str | Path, *, env: Mapping[str, str], on_change: OnChannels | None = None) -> None:
        self.path = Path(path)
        self.current: Mapping[str, Channel] | None = None
        self.errors: tuple[RuleError, ...] = ()  # of the last load attempt; () when it succeeded
        self.warnings: tuple[RuleWarning, ...] = ()  # of the last load attempt
        self._env = env
        self._on_change = on_change
        self._stamp = FileStamp(self.path)

    def poll(self) -> bool:
        """Reload when the file changed since the last read; True when new channels were applied."""
        if not self._stamp.changed():
            return False
        before = self.current
        self.reload()
        return self.current is not before

    def reload(self) -> ChannelsResult:
        """Read the file now; apply its channels when valid and different from those in force."""
        self._stamp.mark()
        result = load_channels(self.path, env=self._env)
        self.errors, self.warnings = result.errors, result.warnings
        if result.channels is not None and result.channels != self.current:
            self.current = result.channels
            if self._on_change is not None:
                self._on_change(result.channels)
        return result
