"""Editing the rules file one rule at a time, keeping the rest of it as written.

An edit changes a single entry of ``alerts:`` and leaves every other byte alone: comments, channels,
defaults and the order of rules are the operator's. PyYAML's composed nodes give each rule's
position, so the edit is a text splice: the entry's lines are replaced, removed, or a new entry is
appended after the last one, in the block style and indentation of the list. A flow-style list
(``alerts: []``) is rewritten as a block list. These functions return text and never write: the
caller validates the result and writes it (:meth:`alerting.rules.RulesWatcher.replace_text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["RulesFileError", "rule_names", "with_rule", "without_rule"]


class RulesFileError(ValueError):
    """The rules file cannot be edited as asked; the message says why."""


def _render(rules: list[Mapping[str, Any]], indent: int) -> str:
    """Rules as a block list, every line indented by ``indent`` spaces (ends with a newline)."""
    text = yaml.safe_dump(
        [dict(r) for r in rules], sort_keys=False, default_flow_style=False, allow_unicode=True, width=1_000_000
    )
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def _alerts(text: str) -> tuple[ScalarNode, Node] | None:
    """The ``alerts`` key and value nodes of the file, None when it has no ``alerts:``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise RulesFileError(f"cannot edit the rules file: it is not valid YAML ({exc})") from None
    if root is None:
        return None
    if not isinstance(root, MappingNode):
        raise RulesFileError("cannot edit the rules file: it is not a mapping")
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "alerts":
            return key, value
    return None


def _name(item: Node) -> str | None:
    if isinstance(item, MappingNode):
        for key, value in item.value:
            if isinstance(key, ScalarNode) and key.value == "name" and isinstance(value, ScalarNode):
                return str(value.value)
    return None


def rule_names(text: str) -> list[str]:
    """Names of the rules under ``alerts:``, in file order (entries without a name are left out)."""
    found = _alerts(text)
    if found is None or not isinstance(found[1], SequenceNode):
        return []
    return [n for item in found[1].value if (n := _name(item)) is not None]


def _content_end(node: Node) -> int:
    """Index just past the last character of ``node``'s content (its own scalars and brackets)."""
    if isinstance(node, MappingNode | SequenceNode) and not node.flow_style:
        children = [n for pair in node.value for n in pair] if isinstance(node, MappingNode) else list(node.value)
        return max((_content_end(c) for c in children), default=node.start_mark.index)
    return int(node.end_mark.index)


def _span(text: str, item: Node) -> tuple[int, int, int]:
    """``(start, end, dash column)`` of the lines holding a block list entry: from its ``-`` line to
    the end of the line of its last content (a block scalar ends at the start of a line already)."""
    dash = text.rfind("-", 0, item.start_mark.index)
    if dash < 0 or text[dash + 1 : item.start_mark.index].strip():
        raise RulesFileError("cannot edit the rules file: an entry of alerts: does not start with '-'")
    start = text.rfind("\n", 0, dash) + 1
    end = _content_end(item)
    if end > 0 and text[end - 1] != "\n":
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
    return start, end, dash - start


def _after_colon(text: str, key: ScalarNode) -> int:
    colon = text.find(":", key.end_mark.index)
    if colon < 0:
        raise RulesFileError("cannot edit the rules file: no ':' after alerts")
    return colon + 1


def _rewrite_flow(text: str, key: ScalarNode, value: Node, rules: list[Mapping[str, Any]]) -> str:
    """Replace a flow-style (or empty) ``alerts`` value with a block list of ``rules``."""
    block = "\n" + _render(rules, key.start_mark.column + 2).rstrip("\n") if rules else " []"
    if isinstance(value, ScalarNode) and value.value == "" and value.tag.endswith(":null"):
        at = _after_colon(text, key)
        return text[:at] + block + text[at:]
    start = _after_colon(text, key)
    return text[:start] + block + text[value.end_mark.index :]


def _items(text: str) -> list[Any]:
    loaded = yaml.safe_load(text)
    items = loaded.get("alerts") if isinstance(loaded, dict) else None
    return list(items) if isinstance(items, list) else []


def with_rule(text: str, rule: Mapping[str, Any], *, replace: str | None = None) -> str:
    """``text`` with ``rule`` (a rule as the file writes it: ``name``, ``condition``, ``for`` ...)
    appended to ``alerts:``, or put in place of the rule named ``replace``.

    Raises :class:`RulesFileError` when the file cannot be edited, or ``replace`` names no rule.
    """
    found = _alerts(text)
    if found is None:
        if replace is not None:
            raise RulesFileError(f"no rule {replace!r} in the rules file")
        glue = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{glue}alerts:\n{_render([rule], 2)}"
    key, value = found
    if not isinstance(value, SequenceNode) or value.flow_style:
        items = _items(text)
        if replace is not None:
            index = next((i for i, r in enumerate(items) if isinstance(r, dict) and r.get("name") == replace), None)
            if index is None:
                raise RulesFileError(f"no rule {replace!r} in the rules file")
            items[index] = dict(rule)
        else:
            items.append(dict(rule))
        return _rewrite_flow(text, key, value, items)
    if replace is not None:
        item = next((i for i in value.value if _name(i) == replace), None)
        if item is None:
            raise RulesFileError(f"no rule {replace!r} in the rules file")
        start, end, column = _span(text, item)
        return text[:start] + _render([rule], column) + text[end:]
    if not value.value:
        return _rewrite_flow(text, key, value, [rule])
    _, end, column = _span(text, value.value[-1])
    glue = "" if end == 0 or text[end - 1] == "\n" else "\n"
    if len(value.value) > 1:  # entries separated by a blank line get one more
        between = text[_span(text, value.value[-2])[1] : _span(text, value.value[-1])[0]]
        glue += "\n" if any(not line.strip() for line in between.splitlines()) else ""
    return text[:end] + glue + _render([rule], column) + text[end:]


def without_rule(text: str, name: str) -> str:
    """``text`` without the rule ``name``; raises :class:`RulesFileError` when there is none."""
    found = _alerts(text)
    if found is None:
        raise RulesFileError(f"no rule {name!r} in the rules file")
    key, value = found
    if not isinstance(value, SequenceNode) or value.flow_style:
        items = _items(text)
        kept = [r for r in items if not (isinstance(r, dict) and r.get("name") == name)]
        if len(kept) == len(items):
            raise RulesFileError(f"no rule {name!r} in the rules file")
        return _rewrite_flow(text, key, value, kept)
    item = next((i for i in value.value if _name(i) == name), None)
    if item is None:
        raise RulesFileError(f"no rule {name!r} in the rules file")
    start, end, _ = _span(text, item)
    edited = text[:start] + text[end:]
    if edited[:start].endswith("\n\n") and (edited[start:].startswith("\n") or start == len(edited)):
        edited = edited[: start - 1] + edited[start:]  # one blank line where two would meet
    if len(value.value) == 1:  # the list is now empty: say so, or alerts: would be null
        at = _after_colon(edited, key)
        edited = edited[:at] + " []" + edited[at:]
    return edited
