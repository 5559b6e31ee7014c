"""The condition grammar of alert rules, and the aliases that let rules use the spec's short names.

A condition compares one value per group with a number::

    condition := operand [matchers] op number
    operand   := <metric>.<stat> | <alias> | <alias>.<stat>
    matchers  := "{" label ("=" | "!=" | "=~" | "!~") "quoted value", ... "}"
    op        := > | >= | < | <= | == | !=

for example ``http.server.duration.p95{service="gateway"} > 200`` or ``error_rate > 0.05``. Stats
are the query API's (:class:`~alerting.stats.Stat`). Metric names may contain ``.``, so the stat is
the last dotted segment, and it must be one of the stats.

An alias names an expression in the same terms (see :data:`DEFAULT_ALIASES`)::

    alias := <metric>[.<stat>][matchers] [ " / " (<metric>.<stat>[matchers] | number) ]

A plain alias (``response_time: http.server.duration``) stands for a metric: the condition gives the
stat, or the alias's default stat applies (``task_queue_length: ai.task.queue_length.max``). A ratio
(``error_rate: span.errors.sum / span.calls.sum``) divides two stats of the same group, or a stat by
a constant; a condition names no stat on it. A term's own matchers select among the metric's series
(``http.server.requests.sum{status_code=~"5.."} / http.server.requests.sum`` is an HTTP error
rate); the condition's matchers apply to every term. The ``/`` needs spaces around it because
metric names may contain ``/``.

Parsing raises :class:`ConditionError` with the 0-based offset of the problem in the text, which
:mod:`alerting.rules` turns into a line and column of the rules file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from alerting.rules.matchers import LabelMatcher, MatcherSyntaxError, format_matchers, scan_matchers
from schemas.stats import Stat

__all__ = [
    "DEFAULT_ALIASES",
    "Alias",
    "Condition",
    "ConditionError",
    "Op",
    "Operand",
    "Term",
    "parse_alias",
    "parse_condition",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]*")
_ALIAS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_STAT_LIKE = re.compile(r"p\d+|[a-z]+_?rate|mean|median|total|last")
_STATS = ", ".join(s.value for s in Stat)


class ConditionError(ValueError):
    """A condition or alias that cannot be read; ``offset`` is the 0-based character of the problem."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


class Op(StrEnum):
    """A comparison of the observed value (left) with the threshold (right)."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    def holds(self, value: float, threshold: float) -> bool:
        """Whether ``value op threshold``; never for NaN (no value never breaches)."""
        if math.isnan(value):
            return False
        if self is Op.GT:
            return value > threshold
        if self is Op.GE:
            return value >= threshold
        if self is Op.LT:
            return value < threshold
        if self is Op.LE:
            return value <= threshold
        if self is Op.EQ:
            return value == threshold
        return value != threshold


@dataclass(frozen=True, slots=True)
class Term:
    """One stat of one metric, optionally of some of its series: ``http.server.requests.sum{status_code=~"5.."}``."""

    metric: str
    stat: Stat
    matchers: tuple[LabelMatcher, ...] = ()  # this term's own matchers (an alias's), besides the condition's

    def __str__(self) -> str:
        return f"{self.metric}.{self.stat.value}{format_matchers(self.matchers)}"


@dataclass(frozen=True, slots=True)
class Alias:
    """A short name for a metric or a ratio of two stats."""

    name: str
    metric: str
    stat: Stat | None  # default stat; None: a condition must name one (never None for a ratio)
    denominator: Term | float | None = None  # set for a ratio: metric.stat / denominator
    matchers: tuple[LabelMatcher, ...] = ()  # the numerator's own matchers

    @property
    def is_ratio(self) -> bool:
        return self.denominator is not None

    def __str__(self) -> str:
        head = (f"{self.metric}.{self.stat.value}" if self.stat else self.metric) + format_matchers(self.matchers)
        if self.denominator is None:
            return head
        if isinstance(self.denominator, float):
            return f"{head} / {self.denominator:g}"
        return f"{head} / {self.denominator}"


@dataclass(frozen=True, slots=True)
class Operand:
    """The value a condition compares, per group: ``numerator``, or ``numerator / denominator``."""

    numerator: Term
    denominator: Term | float | None
    matchers: tuple[LabelMatcher, ...]  # which series count, applied to every term
    written: str  # the operand as the rule wrote it (alias names kept), for messages

    def terms(self) -> tuple[Term, ...]:
        """The stats the evaluator needs for this operand."""
        if isinstance(self.denominator, Term):
            return (self.numerator, self.denominator)
        return (self.numerator,)


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: ``operand op threshold``."""

    text: str  # as written in the rules file
    operand: Operand
    op: Op
    threshold: float

    def breached(self, value: float) -> bool:
        return self.op.holds(value, self.threshold)

    def __str__(self) -> str:
        return f"{self.operand.written}{format_matchers(self.operand.matchers)} {self.op.value} {self.threshold:g}"


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _split_stat(name: str) -> tuple[str, Stat | None, int]:
    """``(head, stat, offset of the stat in name)``; ``stat`` None when the last segment is not one."""
    head, dot, tail = name.rpartition(".")
    if dot and tail in Stat._value2member_map_:
        return head, Stat(tail), len(head) + 1
    return name, None, len(name)


def _unknown_stat(name: str, start: int) -> ConditionError | None:
    head, dot, tail = name.rpartition(".")
    if dot and _STAT_LIKE.fullmatch(tail):
        return ConditionError(start + len(head) + 1, f"unknown stat {tail!r}: expected one of {_STATS}")
    return None


def _term(text: str, pos: int, what: str) -> tuple[str, Stat | None, tuple[LabelMatcher, ...], int]:
    """Read ``name[.stat][{matchers}]`` at ``pos``: ``(metric, stat, matchers, end)``."""
    match = _NAME.match(text, pos)
    if match is None:
        found = text[pos : pos + 10] or "the end"
        raise ConditionError(pos, f"expected {what}, found {found!r}")
    head, stat, _ = _split_stat(match.group(0))
    end = match.end()
    matchers: tuple[LabelMatcher, ...] = ()
    if end < len(text) and text[end] == "{":
        try:
            matchers, end = scan_matchers(text, end)
        except MatcherSyntaxError as exc:
            raise ConditionError(exc.offset, exc.reason) from None
    return head, stat, matchers, end


def parse_alias(name: str, text: str) -> Alias:
    """Parse an alias definition such as ``span.errors.sum / span.calls.sum``.

    Each term may carry its own matchers (``http.server.requests.sum{status_code=~"5.."} /
    http.server.requests.sum``). Raises :class:`ConditionError` (offset into ``text``).
    """
    if not _ALIAS_NAME.fullmatch(name):
        raise ConditionError(0, f"alias name {name!r} must be a word: letters, digits and '_' (no dots)")
    pos = _skip(text, 0)
    metric, stat, matchers, pos = _term(text, pos, "a metric name")
    pos = _skip(text, pos)
    if pos == len(text):
        return Alias(name, metric, stat, None, matchers)
    if text[pos] != "/":
        raise ConditionError(pos, f"expected ' / ' or the end after {text[:pos].strip()!r}, found {text[pos:]!r}")
    if stat is None:
        raise ConditionError(pos, f"a ratio needs a stat on both sides: write {metric}.<stat> ({_STATS})")
    pos = _skip(text, pos + 1)
    number = _NUMBER.match(text, pos)
    denominator: Term | float
    if number is not None and _skip(text, number.end()) == len(text):
        denominator = float(number.group(0))
        if not math.isfinite(denominator):
            raise ConditionError(pos, f"divisor {number.group(0)[:40]!r} is past the largest float (about 1.8e308)")
        if denominator == 0:
            raise ConditionError(pos, "cannot divide by zero")
        end = number.end()
    else:
        den_metric, den_stat, den_matchers, end = _term(text, pos, "a metric name or a number after '/'")
        if den_stat is None:
            raise ConditionError(end, f"a ratio needs a stat on both sides: write {den_metric}.<stat> ({_STATS})")
        denominator = Term(den_metric, den_stat, den_matchers)
    end = _skip(text, end)
    if end != len(text):
        raise ConditionError(end, f"unexpected text after the ratio: {text[end:]!r}")
    return Alias(name, metric, stat, denominator, matchers)


def _operand(text: str, pos: int, aliases: Mapping[str, Alias]) -> tuple[Operand, int]:
    match = _NAME.match(text, pos)
    if match is None:
        found = text[pos : pos + 10] or "the end"
        raise ConditionError(pos, f"expected a metric or alias name, found {found!r}")
    name, end = match.group(0), match.end()
    head, stat, stat_at = _split_stat(name)
    alias = aliases.get(name)
    if alias is not None:
        stat = None
    else:
        alias = aliases.get(head) if stat is not None else None
    if alias is not None:
        if alias.is_ratio and stat is not None:
            raise ConditionError(pos + stat_at, f"{alias.name!r} is a ratio ({alias}) and takes no stat")
        stat = stat or alias.stat
        if stat is None:
            raise ConditionError(end, f"{alias.name!r} needs a stat: write {alias.name}.<stat> with one of {_STATS}")
        numerator = Term(alias.metric, stat, alias.matchers)
        denominator = alias.denominator
    elif stat is None:
        unknown = _unknown_stat(name, pos)
        if unknown is not None:
            raise unknown
        known = ", ".join(sorted(aliases)) or "none"
        raise ConditionError(
            pos, f"{name!r} is neither an alias ({known}) nor <metric>.<stat> with stat one of {_STATS}"
        )
    else:
        numerator, denominator = Term(head, stat), None
    matchers: tuple[LabelMatcher, ...] = ()
    if end < len(text) and text[end] == "{":
        try:
            matchers, end = scan_matchers(text, end)
        except MatcherSyntaxError as exc:
            raise ConditionError(exc.offset, exc.reason) from None
    return Operand(numerator, denominator, matchers, name), end


_OPS = (Op.GE, Op.LE, Op.EQ, Op.NE, Op.GT, Op.LT)  # two-character operators first
_WRONG_OPS = {"=>": ">=", "=<": "<=", "<>": "!=", "=": "=="}


def parse_condition(text: str, aliases: Mapping[str, Alias] | None = None) -> Condition:
    """Parse ``text`` (e.g. ``response_time.p95 > 200``) with ``aliases`` (default :data:`DEFAULT_ALIASES`).

    Raises :class:`ConditionError` with the offset of the problem and the reason.
    """
    aliases = DEFAULT_ALIASES if aliases is None else aliases
    pos = _skip(text, 0)
    if pos == len(text):
        raise ConditionError(0, "the condition is empty: expected e.g. 'response_time.p95 > 200'")
    operand, pos = _operand(text, pos, aliases)
    pos = _skip(text, pos)
    for wrong, right in _WRONG_OPS.items():
        if text.startswith(wrong, pos) and not text.startswith("==", pos):
            raise ConditionError(pos, f"{wrong!r} is not a comparison; did you mean {right!r}?")
    op = next((o for o in _OPS if text.startswith(o.value, pos)), None)
    if op is None:
        found = text[pos : pos + 10] or "the end"
        raise ConditionError(pos, f"expected a comparison (> >= < <= == !=) after {operand.written!r}, found {found!r}")
    pos = _skip(text, pos + len(op.value))
    number = _NUMBER.match(text, pos)
    if number is None:
        found = text[pos : pos + 10] or "the end"
        raise ConditionError(pos, f"expected a number after {op.value!r}, found {found!r}")
    end = _skip(text, number.end())
    if end != len(text):
        raise ConditionError(end, f"unexpected text after the threshold: {text[end:]!r}")
    threshold = float(number.group(0))
    if not math.isfinite(threshold):  # 1e400 reads as infinity: a rule that could never (or always) fire
        raise ConditionError(pos, f"threshold {number.group(0)[:40]!r} is past the largest float (about 1.8e308)")
    return Condition(text, operand, op, threshold)


def _defaults() -> dict[str, Alias]:
    definitions = {
        # the spec's names (section 8), mapped to what perfpulse's emitters and span metrics record
        "response_time": "http.server.duration",  # milliseconds; the condition gives the stat
        "error_rate": "span.errors.sum / span.calls.sum",  # failed spans over all spans, per window
        "memory_usage": "process.memory.rss_bytes.avg / process.memory.limit_bytes.avg",  # fraction 0..1
        "task_queue_length": "ai.task.queue_length.max",  # the highest level seen in the window
        "cpu_usage": "process.cpu.utilization.avg",  # fraction 0..1
    }
    return {name: parse_alias(name, text) for name, text in definitions.items()}


DEFAULT_ALIASES: Mapping[str, Alias] = _defaults()
