"""Annotation templates: the small part of Prometheus's Go templates that alert annotations use.

``{{ $value }}``, ``{{ $threshold }}``, ``{{ $labels.service }}`` (any label of the alert; a missing
one renders empty) and ``{{ $labels }}`` (all of them, ``k=v, …``), each optionally piped through
one function: ``humanize`` (3 significant digits with k/M/G… or m/µ suffixes),
``humanizePercentage`` (0.053 -> ``5.3%``) or ``printf "%.1f"`` (one number format).

Templates are compiled when rules load, so an unknown variable or function is a rule error with
its position rather than a surprise in a notification.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Template", "TemplateError", "compile_template", "humanize"]

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_VARIABLE = re.compile(r"\$(value|threshold|labels)(?:\.([A-Za-z_][A-Za-z0-9_]*))?$")
_PRINTF = re.compile(r'printf\s+"(%[-+ 0#]*\d*(?:\.\d+)?[eEfFgG%])"$')
_FUNCTIONS = ("humanize", "humanizePercentage", "printf")
_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_SMALL = ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


class TemplateError(ValueError):
    """A template that cannot be compiled; ``offset`` is the 0-based character of the problem."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def humanize(value: float) -> str:
    """``1234567`` -> ``1.23M``; ``0.0042`` -> ``4.2m``; as Prometheus's ``humanize``."""
    if math.isnan(value) or math.isinf(value) or value == 0:
        return f"{value:g}"
    magnitude = abs(value)
    for scale, suffix in _SI:
        if magnitude >= scale:
            return f"{value / scale:.3g}{suffix}"
    if magnitude >= 1:
        return f"{value:.4g}"
    for scale, suffix in _SMALL:
        if magnitude >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


@dataclass(frozen=True, slots=True)
class _Action:
    variable: str  # value | threshold | labels
    label: str | None  # for $labels.<label>
    function: str | None  # humanize | humanizePercentage | printf
    fmt: str | None  # printf's format


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template; :meth:`render` never raises."""

    source: str
    parts: tuple[str | _Action, ...]

    def render(self, *, value: float, threshold: float, labels: Mapping[str, str]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part.variable == "labels":
                out.append(
                    labels.get(part.label, "")
                    if part.label
                    else ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
                )
            else:
                out.append(_format(value if part.variable == "value" else threshold, part))
        return "".join(out)


def _format(number: float, action: _Action) -> str:
    if action.function == "humanize":
        return humanize(number)
    if action.function == "humanizePercentage":
        return f"{number * 100:.4g}%"
    if action.function == "printf" and action.fmt is not None:
        return action.fmt % number
    return f"{number:g}" if math.isfinite(number) and abs(number) < 1e15 else repr(number)


def _action(body: str, offset: int) -> _Action:
    expression, _, function = (part.strip() for part in body.partition("|"))
    variable = _VARIABLE.match(expression)
    if variable is None:
        raise TemplateError(
            offset, f"unknown template variable {expression!r}: use $value, $threshold or $labels.<name>"
        )
    name, label = variable.group(1), variable.group(2)
    if label is not None and name != "labels":
        raise TemplateError(offset, f"${name} has no fields; only $labels.<name> does")
    if not function:
        return _Action(name, label, None, None)
    if name == "labels":
        raise TemplateError(offset, f"cannot apply {function!r} to labels: functions format numbers")
    if function in ("humanize", "humanizePercentage"):
        return _Action(name, label, function, None)
    printf = _PRINTF.match(function)
    if printf is None:
        raise TemplateError(
            offset,
            f"unknown template function {function!r}: use one of {', '.join(_FUNCTIONS)}"
            ' (printf takes one number format, e.g. printf "%.1f")',
        )
    return _Action(name, label, "printf", printf.group(1))


def compile_template(source: str) -> Template:
    """Compile ``source``; raises :class:`TemplateError` with the offset of the bad action."""
    parts: list[str | _Action] = []
    pos = 0
    for match in _ACTION.finditer(source):
        parts.append(source[pos : match.start()])
        parts.append(_action(match.group(1), match.start()))
        pos = match.end()
    rest = source[pos:]
    if "{{" in rest:
        raise TemplateError(pos + rest.index("{{"), "unclosed '{{': expected '}}'")
    parts.append(rest)
    return Template(source, tuple(p for p in parts if p != ""))
