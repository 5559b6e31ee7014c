"""Editing the rules file one rule at a time: the rest of the file stays byte for byte."""

from __future__ import annotations

import textwrap

import pytest

from alerting.rules import parse_rules
from alerting.rules.editor import RulesFileError, rule_names, with_rule, without_rule
from perfpulse.settings import DEFAULT_RULES
from tests.alerting.rules.shipped import TASK_RULES

NEW = {"name": "new_rule", "condition": "response_time.p99 > 500", "for": "10s", "notification": ["slack"]}


def valid(text: str) -> list[str]:
    result = parse_rules(text)
    assert result.rules is not None, [str(e) for e in result.errors]
    return [r.name for r in result.rules.rules]


def test_append_then_remove_restores_the_shipped_file_exactly() -> None:
    text = DEFAULT_RULES.read_text()
    added = with_rule(text, NEW)
    assert added.startswith(text.rstrip("\n")), "everything before the new entry is unchanged"
    assert added.endswith('\n\n  - name: new_rule\n    condition: response_time.p99 > 500\n    for: 10s\n'
                          '    notification:\n    - slack\n')  # fmt: skip
    assert valid(added)[-1] == "new_rule"
    assert without_rule(added, "new_rule") == text


def test_replace_keeps_neighbours_and_comments() -> None:
    text = DEFAULT_RULES.read_text()
    edited = with_rule(text, {**NEW, "name": "high_error_rate"}, replace="high_error_rate")
    assert valid(edited) == [
        "high_response_time",
        "high_error_rate",
        "memory_threshold",
        "task_queue_backup",
        *TASK_RULES,
    ]
    assert parse_rules(edited).rules.get("high_error_rate").condition.text == "response_time.p99 > 500"  # type: ignore[union-attr]
    kept = [line for line in text.splitlines() if line.startswith("#")]
    assert [line for line in edited.splitlines() if line.startswith("#")] == kept
    renamed = with_rule(text, NEW, replace="memory_threshold")
    assert rule_names(renamed) == [
        "high_response_time",
        "high_error_rate",
        "new_rule",
        "task_queue_backup",
        *TASK_RULES,
    ]


def test_flow_lists_block_scalars_and_the_last_rule() -> None:
    flow = "channels: {slack: {type: slack, url: 'https://hooks.example/x'}}\nalerts: []  # none yet\n"
    one = with_rule(flow, NEW)
    assert valid(one) == ["new_rule"] and "# none yet" in one
    assert valid(without_rule(one, "new_rule")) == []
    inline = "alerts: [{name: a, condition: 'response_time.p95 > 1'}]\n"
    assert valid(with_rule(inline, {"name": "b", "condition": "error_rate > 0.1"})) == ["a", "b"]
    assert valid(without_rule(inline, "a")) == []
    block = textwrap.dedent(
        """\
        alerts:
        - name: a
          condition: >-
            response_time.p95
            > 1
        - name: c
          condition: error_rate > 0.5  # trailing comment
        """
    )
    assert valid(with_rule(block, {"name": "b", "condition": "error_rate > 0.1"}, replace="a")) == ["b", "c"]
    assert valid(without_rule(block, "c")) == ["a"]
    assert with_rule("", NEW).startswith("alerts:\n  - name: new_rule")


def test_what_cannot_be_edited() -> None:
    with pytest.raises(RulesFileError, match="no rule 'nope'"):
        without_rule(DEFAULT_RULES.read_text(), "nope")
    with pytest.raises(RulesFileError, match="no rule 'nope'"):
        with_rule(DEFAULT_RULES.read_text(), NEW, replace="nope")
    with pytest.raises(RulesFileError, match="not valid YAML"):
        with_rule("alerts: [\n", NEW)
    with pytest.raises(RulesFileError, match="not a mapping"):
        with_rule("- a\n", NEW)
