from __future__ import annotations

import pytest

from alerting.rules.matchers import LabelMatcher, MatcherSyntaxError, MatchOp, format_matchers, parse_matchers


def test_operators_follow_prometheus_semantics() -> None:
    labels = {"service": "gateway", "status_code": "503"}
    assert LabelMatcher.of("service", "=", "gateway").matches(labels)
    assert LabelMatcher.of("service", "!=", "frontend").matches(labels)
    assert LabelMatcher.of("status_code", "=~", "5..").matches(labels)
    assert not LabelMatcher.of("status_code", "=~", "5").matches(labels), "regexes are anchored"
    assert LabelMatcher.of("status_code", "!~", "4..").matches(labels)
    assert LabelMatcher.of("route", "=", "").matches(labels), "a missing label reads as empty"
    assert not LabelMatcher.of("route", "!=", "").matches(labels)


def test_parse_with_or_without_braces_and_round_trip() -> None:
    matchers = parse_matchers('{service="gateway", route!="/health", code=~"5..",}')
    assert [(m.name, m.op, m.value) for m in matchers] == [
        ("service", MatchOp.EQ, "gateway"),
        ("route", MatchOp.NE, "/health"),
        ("code", MatchOp.RE, "5.."),
    ]
    assert parse_matchers("service='gateway'") == parse_matchers('{service="gateway"}')
    assert parse_matchers(format_matchers(matchers)) == matchers
    assert parse_matchers(r'msg="say \"hi\"\n"')[0].value == 'say "hi"\n'
    assert parse_matchers("  ") == ()


@pytest.mark.parametrize(
    ("text", "offset", "reason"),
    [
        ('{service="gateway"', 18, "unclosed '{'"),
        ('{service~"x"}', 8, "expected one of = != =~ !~"),
        ("{service=gateway}", 9, "expected a quoted value"),
        ('{service="gateway}', 9, "unterminated label value"),
        ('{1abc="x"}', 1, "expected a label name"),
        ('{code=~"("}', 7, "invalid regular expression"),
        ('{a="x" b="y"}', 7, "expected ',' or '}'"),
        (r'{a="\q"}', 4, "unknown escape"),
    ],
)
def test_syntax_errors_name_the_offset(text: str, offset: int, reason: str) -> None:
    with pytest.raises(MatcherSyntaxError) as info:
        parse_matchers(text)
    assert info.value.offset == offset
    assert reason in info.value.reason


def test_unbraced_errors_keep_offsets_of_the_original_text() -> None:
    with pytest.raises(MatcherSyntaxError) as info:
        parse_matchers('a="x", b~"y"')
    assert info.value.offset == 8
