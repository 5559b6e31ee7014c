"""Reading the rules file as YAML nodes, so every complaint points at a line and a column.

PyYAML's ``compose`` keeps each node's start mark (0-based line and column); :class:`Reader` checks
types on those nodes and collects :class:`RuleError` / :class:`RuleWarning` (1-based positions)
instead of stopping at the first problem, as a compiler does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from schemas import parse_duration_ms

__all__ = ["Reader", "RuleError", "RuleWarning", "compose"]

_ZERO_DURATIONS = frozenset({"0", "0s", "0ms", "0m", "0h"})


@dataclass(frozen=True, slots=True)
class RuleError:
    """A problem that makes the rules file unusable: where (1-based line and column) and why."""

    file: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RuleWarning:
    """A problem that does not stop the file from loading (e.g. a channel disabled by an unset variable)."""

    file: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: warning: {self.reason}"


def compose(text: str) -> Node | None:
    """The YAML node tree of ``text`` (None for an empty document); raises ``yaml.YAMLError``."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _scalar(node: ScalarNode) -> Any:
    return SafeConstructor().construct_object(node, deep=True)


class Reader:
    """Typed access to composed nodes that records problems rather than raising."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.errors: list[RuleError] = []
        self.warnings: list[RuleWarning] = []

    # -- positions ------------------------------------------------------------------------------

    def position(self, node: Node, offset: int = 0) -> tuple[int, int]:
        """1-based line and column of ``node`` or of the character ``offset`` into its string value.

        Exact for single-line plain, quoted and block scalars; multi-line folded values fall back to
        the node's start.
        """
        start = node.start_mark
        if isinstance(node, ScalarNode) and node.value and node.tag == "tag:yaml.org,2002:str":
            raw = self.text[start.index : node.end_mark.index]
            found = raw.find(node.value)
            if found >= 0 and offset <= len(node.value):
                index = start.index + found + offset
                line = self.text.count("\n", 0, index)
                column = index - (self.text.rfind("\n", 0, index) + 1)
                return line + 1, column + 1
        return start.line + 1, start.column + 1

    def error(self, node: Node, reason: str, offset: int = 0) -> None:
        line, column = self.position(node, offset)
        self.errors.append(RuleError(self.file, line, column, reason))

    def warn(self, node: Node, reason: str, offset: int = 0) -> None:
        line, column = self.position(node, offset)
        self.warnings.append(RuleWarning(self.file, line, column, reason))

    # -- shapes ---------------------------------------------------------------------------------

    def document(self) -> tuple[Node | None, dict[str, tuple[Node, Node]] | None]:
        """The root node of :attr:`text` and its top-level keys.

        ``(None, {})`` for an empty document; ``(root or None, None)`` when the text is not YAML or
        not a mapping (the error is recorded).
        """
        try:
            root = compose(self.text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = f"invalid YAML: {exc.problem or exc.context}"
            if exc.context and exc.problem:
                reason += f" ({exc.context})"
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            self.errors.append(RuleError(self.file, line, column, reason))
            return None, None
        except yaml.YAMLError as exc:
            self.errors.append(RuleError(self.file, 1, 1, f"invalid YAML: {exc}"))
            return None, None
        if root is None:
            return None, {}
        return root, self.mapping(root, "the rules file")

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]] | None:
        """``{key: (key node, value node)}``; duplicate and non-string keys are errors."""
        if not isinstance(node, MappingNode):
            self.error(node, f"{what} must be a mapping (key: value), found {_kind(node)}")
            return None
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or not isinstance(_scalar(key_node), str):
                self.error(key_node, f"{what}: keys must be strings, found {_kind(key_node)}")
                continue
            key = key_node.value
            if key in out:
                first_line = out[key][0].start_mark.line + 1
                self.error(key_node, f"{what}: duplicate key {key!r} (first at line {first_line})")
                continue
            out[key] = (key_node, value_node)
        return out

    def only_keys(self, fields: dict[str, tuple[Node, Node]], allowed: frozenset[str], what: str) -> None:
        for key, (key_node, _) in fields.items():
            if key not in allowed:
                self.error(key_node, f"{what}: unknown key {key!r}; expected one of {', '.join(sorted(allowed))}")

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.error(node, f"{what} must be a list, found {_kind(node)}")
            return None
        return list(node.value)

    def string(self, node: Node, what: str, *, allow_empty: bool = False) -> str | None:
        """A string scalar; numbers and booleans are refused (quote them to mean text)."""
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str):
            self.error(node, f"{what} must be a string, found {_kind(node)}")
            return None
        if not allow_empty and not value.strip():
            self.error(node, f"{what} must not be empty")
            return None
        return value

    def text_value(self, node: Node, what: str) -> str | None:
        """A scalar read as text whatever its YAML type (label values: ``code: 500`` means "500")."""
        if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.error(node, f"{what} must be a string, found {_kind(node)}")
            return None
        return str(node.value)

    def strings(self, node: Node, what: str) -> list[tuple[str, Node]] | None:
        """A list of strings (a single string counts as a list of one)."""
        if isinstance(node, ScalarNode):
            value = self.string(node, what)
            return None if value is None else [(value, node)]
        items = self.sequence(node, what)
        if items is None:
            return None
        out = []
        for item in items:
            value = self.string(item, f"each entry of {what}")
            if value is not None:
                out.append((value, item))
        return out

    def string_map(self, node: Node, what: str) -> dict[str, tuple[str, Node]] | None:
        fields = self.mapping(node, what)
        if fields is None:
            return None
        out = {}
        for key, (_, value_node) in fields.items():
            value = self.text_value(value_node, f"{what}.{key}")
            if value is not None:
                out[key] = (value, value_node)
        return out

    def duration(self, node: Node, what: str, *, allow_zero: bool = True) -> int | None:
        """Milliseconds from ``30s``, ``5m``, ``500ms`` (a bare number is seconds)."""
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        zero = (isinstance(value, str) and value.strip() in _ZERO_DURATIONS) or (
            isinstance(value, int | float) and not isinstance(value, bool) and value == 0
        )
        if zero:
            if allow_zero:
                return 0
            self.error(node, f"{what} must be positive")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(node, f"{what} must be a duration such as '30s' or '5m', found {_kind(node)}")
            return None
        try:
            return parse_duration_ms(value)
        except ValueError as exc:
            self.error(node, f"{what}: {exc}")
            return None

    def boolean(self, node: Node, what: str) -> bool | None:
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            self.error(node, f"{what} must be true or false, found {_kind(node)}")
            return None
        return value

    def integer(self, node: Node, what: str, *, minimum: int) -> int | None:
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(node, f"{what} must be an integer >= {minimum}, found {_kind(node)}")
            return None
        return value

    def number(self, node: Node, what: str) -> float | None:
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.error(node, f"{what} must be a number, found {_kind(node)}")
            return None
        return float(value)


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        tag = node.tag.rsplit(":", 1)[-1]
        if tag == "null":
            return "nothing"
        return f"{'a string' if tag == 'str' else 'an ' + tag if tag == 'int' else 'a ' + tag} {node.value!r}"
    return type(node).__name__
