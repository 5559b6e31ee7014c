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


@pytest.mark.timeout(60)  # a backtracking engine would not finish (about 2**100 steps); RE2 takes microseconds
@pytest.mark.parametrize("pattern", ["(a+)+b", "(a|aa)*c", "(.*a){20}x", "(a*)*$b"])
def test_regexes_run_in_linear_time_on_adversarial_values(pattern: str) -> None:
    matcher = LabelMatcher.of("route", MatchOp.RE, pattern)
    value = "a" * 100_000
    assert not matcher.matches({"route": value})
    assert LabelMatcher.of("route", MatchOp.NRE, pattern).matches({"route": value})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "invalid escape sequence"),  # backreferences need backtracking: RE2 has none
        ("(?=a)a", "invalid perl operator"),  # nor lookarounds
        ("a" * 1_025, "the limit is 1024"),
    ],
)
def test_regexes_beyond_re2_or_the_length_bound_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        LabelMatcher.of("route", MatchOp.RE, pattern)


def test_regexes_are_anchored_and_dot_matches_newlines() -> None:
    matcher = LabelMatcher.of("status", MatchOp.RE, "5..|4.*")
    assert matcher.matches({"status": "503"}) and matcher.matches({"status": "4\nx"})
    assert not matcher.matches({"status": "1503"}) and not matcher.matches({"status": "5030"})
