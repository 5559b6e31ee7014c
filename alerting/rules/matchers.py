"""Label matchers, as PromQL and Alertmanager write them: ``{service="gateway", route!="/health",
status_code=~"5.."}``. Used by rule conditions (which series a rule looks at) and by silences
(which alerts they mute).

Semantics are Prometheus's: a missing label matches as the empty string, and regular expressions
are anchored at both ends (``=~"5.."`` matches ``"503"``, not ``"1503"``). Regular expressions are
RE2's, as Prometheus's (Go's) are, and run by RE2: time linear in the label value whatever the
pattern (``(a+)+b`` cannot backtrack), and no backreferences or lookarounds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import re2

__all__ = ["LabelMatcher", "MatchOp", "MatcherSyntaxError", "format_matchers", "parse_matchers", "scan_matchers"]

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


MAX_REGEX_LENGTH = 1_024  # characters in one matcher's regular expression

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.dot_nl = True  # "." matches a newline too, as Prometheus's (?s)
_RE2_OPTIONS.log_errors = False  # a bad pattern is the client's error, answered; not logged to stderr


class Pattern(Protocol):
    """A compiled RE2 pattern (google-re2 ships no types)."""

    def fullmatch(self, text: str) -> object | None: ...


class MatcherSyntaxError(ValueError):
    """A matcher list that cannot be read; ``offset`` is the 0-based character where reading failed."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


class MatchOp(StrEnum):
    """How a matcher compares a label's value."""

    EQ = "="  # equal
    NE = "!="  # not equal
    RE = "=~"  # matches the regular expression (anchored)
    NRE = "!~"  # does not match the regular expression (anchored)


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """One condition on one label. Build with :meth:`of`, which compiles (and so checks) a regex."""

    name: str
    op: MatchOp
    value: str
    pattern: Pattern | None = field(default=None, compare=False, repr=False)  # for =~ and !~

    @classmethod
    def of(cls, name: str, op: MatchOp | str, value: str) -> LabelMatcher:
        """Raises ``ValueError`` for an invalid label name or regular expression."""
        op = MatchOp(op)
        if not _LABEL_NAME.fullmatch(name):
            raise ValueError(f"label name {name!r} must start with a letter or '_' and use only [A-Za-z0-9_.-]")
        pattern = None
        if op in (MatchOp.RE, MatchOp.NRE):
            if len(value) > MAX_REGEX_LENGTH:
                raise ValueError(f"regular expression of {len(value)} characters, the limit is {MAX_REGEX_LENGTH}")
            try:
                pattern = re2.compile(f"(?:{value})", _RE2_OPTIONS)
            except re2.error as exc:
                reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
                raise ValueError(f"invalid regular expression {value!r}: {reason}") from None
        return cls(name, op, value, pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label reads as ``""``)."""
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        assert self.pattern is not None, "build regex matchers with LabelMatcher.of"
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op is MatchOp.RE else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


def format_matchers(matchers: tuple[LabelMatcher, ...]) -> str:
    """``{a="b", c=~"d"}``, or ``""`` for no matchers."""
    return "{" + ", ".join(str(m) for m in matchers) + "}" if matchers else ""


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _scan_string(text: str, pos: int) -> tuple[str, int]:
    """A quoted string (double or single quotes, backslash escapes) starting at ``text[pos]``."""
    quote = text[pos]
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\\":
            if i + 1 >= len(text):
                break
            escaped = text[i + 1]
            if escaped not in _ESCAPES:
                raise MatcherSyntaxError(i, f"unknown escape '\\{escaped}' in label value")
            out.append(_ESCAPES[escaped])
            i += 2
            continue
        out.append(char)
        i += 1
    raise MatcherSyntaxError(pos, "unterminated label value: a closing quote is missing")


def _scan_one(text: str, pos: int) -> tuple[LabelMatcher, int]:
    name_match = _LABEL_NAME.match(text, pos)
    if name_match is None:
        raise MatcherSyntaxError(pos, f"expected a label name, found {text[pos : pos + 10]!r}")
    name = name_match.group(0)
    pos = _skip_space(text, name_match.end())
    for op in (MatchOp.RE, MatchOp.NRE, MatchOp.NE, MatchOp.EQ):  # two-character operators first
        if text.startswith(op.value, pos):
            break
    else:
        raise MatcherSyntaxError(pos, f"expected one of = != =~ !~ after label {name!r}, found {text[pos : pos + 5]!r}")
    pos = _skip_space(text, pos + len(op.value))
    if pos >= len(text) or text[pos] not in "\"'":
        raise MatcherSyntaxError(pos, f"expected a quoted value after {name}{op.value}")
    value_pos = pos
    value, pos = _scan_string(text, pos)
    try:
        matcher = LabelMatcher.of(name, op, value)
    except ValueError as exc:
        raise MatcherSyntaxError(value_pos, str(exc)) from None
    return matcher, pos


def scan_matchers(text: str, pos: int) -> tuple[tuple[LabelMatcher, ...], int]:
    """Read ``{…}`` starting at ``text[pos] == "{"``; return the matchers and the offset after ``}``.

    Raises :class:`MatcherSyntaxError` with the offset of the problem.
    """
    assert text[pos] == "{"
    matchers: list[LabelMatcher] = []
    pos = _skip_space(text, pos + 1)
    if pos < len(text) and text[pos] == "}":
        return (), pos + 1
    while True:
        matcher, pos = _scan_one(text, pos)
        matchers.append(matcher)
        pos = _skip_space(text, pos)
        if pos >= len(text):
            raise MatcherSyntaxError(pos, "unclosed '{': expected ',' or '}'")
        if text[pos] == "}":
            return tuple(matchers), pos + 1
        if text[pos] != ",":
            raise MatcherSyntaxError(pos, f"expected ',' or '}}' after {matcher}, found {text[pos]!r}")
        pos = _skip_space(text, pos + 1)
        if pos < len(text) and text[pos] == "}":  # trailing comma, as PromQL allows
            return tuple(matchers), pos + 1


def parse_matchers(text: str) -> tuple[LabelMatcher, ...]:
    """Parse ``{a="b", c=~"d"}`` or the same without braces (the silences API takes either).

    Raises :class:`MatcherSyntaxError` (a ``ValueError``) naming the offset and the reason.
    """
    stripped = text.strip()
    if not stripped:
        return ()
    source = stripped if stripped.startswith("{") else "{" + stripped + "}"
    shift = text.index(stripped) - (0 if stripped.startswith("{") else 1)
    try:
        matchers, end = scan_matchers(source, 0)
    except MatcherSyntaxError as exc:
        raise MatcherSyntaxError(max(0, exc.offset + shift), exc.reason) from None
    if end != len(source):
        raise MatcherSyntaxError(end + shift, f"unexpected text after the matchers: {source[end:]!r}")
    return matchers
