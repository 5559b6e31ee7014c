from __future__ import annotations

import math

import pytest

from alerting.rules.condition import DEFAULT_ALIASES, ConditionError, Op, Term, parse_alias, parse_condition
from schemas.stats import Stat


def test_metric_stat_op_threshold() -> None:
    c = parse_condition("http.server.duration.p95 > 200")
    assert c.operand.numerator == Term("http.server.duration", Stat.P95)
    assert c.operand.denominator is None
    assert (c.op, c.threshold) == (Op.GT, 200.0)
    assert c.breached(201) and not c.breached(200) and not c.breached(math.nan)


def test_label_filters_follow_the_stat() -> None:
    c = parse_condition('http.server.duration.p95{service="gateway", route=~"/api/.*"} >= 1.5e2')
    assert [str(m) for m in c.operand.matchers] == ['service="gateway"', 'route=~"/api/.*"']
    assert (c.op, c.threshold) == (Op.GE, 150.0)


@pytest.mark.parametrize(
    ("text", "op", "value", "breached"),
    [("x.avg < 1", Op.LT, 0.5, True), ("x.avg <= 1", Op.LE, 1, True), ("x.avg == 1", Op.EQ, 1, True),
     ("x.avg != 1", Op.NE, 1, False), ("x.avg > -1", Op.GT, 0, True), ("x.count >= .5", Op.GE, 0.4, False)],
)  # fmt: skip
def test_every_comparison(text: str, op: Op, value: float, breached: bool) -> None:
    c = parse_condition(text)
    assert c.op is op
    assert c.breached(value) is breached


def test_every_stat_of_the_query_api() -> None:
    for stat in Stat:
        assert parse_condition(f"some.metric.{stat.value} > 0").operand.numerator.stat is stat


def test_spec_aliases() -> None:
    rt = parse_condition("response_time.p95 > 200").operand
    assert rt.numerator == Term("http.server.duration", Stat.P95)
    er = parse_condition("error_rate > 0.05").operand
    assert (er.numerator, er.denominator) == (Term("span.errors", Stat.SUM), Term("span.calls", Stat.SUM))
    mem = parse_condition("memory_usage > 0.8").operand
    assert mem.denominator == Term("process.memory.limit_bytes", Stat.AVG)
    q = parse_condition("task_queue_length > 100").operand
    assert q.numerator == Term("ai.task.queue_length", Stat.MAX)
    assert parse_condition("task_queue_length.p50 > 100").operand.numerator.stat is Stat.P50, "default stat overridable"
    assert parse_condition('error_rate{service="gateway"} > 0.05').operand.matchers[0].value == "gateway"


def test_aliases_are_configurable() -> None:
    aliases = dict(DEFAULT_ALIASES)
    aliases["error_rate"] = parse_alias(
        "error_rate", 'http.server.requests.sum{status_code=~"5.."} / http.server.requests.sum'
    )
    aliases["mem"] = parse_alias("mem", "process.memory.rss_bytes.max / 500e6")
    er = parse_condition("error_rate > 0.01", aliases).operand
    assert str(er.numerator) == 'http.server.requests.sum{status_code=~"5.."}'
    assert er.denominator == Term("http.server.requests", Stat.SUM)
    assert parse_condition("mem > 0.8", aliases).operand.denominator == 500e6


@pytest.mark.parametrize(
    ("text", "offset", "reason"),
    [
        ("", 0, "the condition is empty"),
        ("   ", 0, "the condition is empty"),
        ("> 200", 0, "expected a metric or alias name"),
        ("http.server.duration > 200", 0, "is neither an alias"),
        ("http.server.duration.p42 > 200", 21, "unknown stat 'p42'"),
        ("http.server.duration.median > 200", 21, "unknown stat 'median'"),
        ("response_time > 200", 13, "'response_time' needs a stat"),
        ("error_rate.p95 > 0.1", 11, "is a ratio"),
        ("response_time.p95 200", 18, "expected a comparison"),
        ("response_time.p95 => 200", 18, "did you mean '>='"),
        ("response_time.p95 = 200", 18, "did you mean '=='"),
        ("response_time.p95 <> 200", 18, "did you mean '!='"),
        ("response_time.p95 >> 200", 19, "expected a number after '>'"),
        ("response_time.p95 > abc", 20, "expected a number"),
        ("response_time.p95 >", 19, "found 'the end'"),
        ("response_time.p95 > 200 and more", 24, "unexpected text after the threshold"),
        ("response_time.p95 > 200ms", 23, "unexpected text after the threshold"),
        ('response_time.p95{service="gateway" > 200', 36, "expected ',' or '}'"),
        ("response_time.p95{service=gateway} > 200", 26, "expected a quoted value"),
        ('response_time.p95{code=~"("} > 200', 24, "invalid regular expression"),
        ('response_time.p95{9x="a"} > 200', 18, "expected a label name"),
    ],
)
def test_grammar_errors_carry_offset_and_reason(text: str, offset: int, reason: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert reason in info.value.reason
    assert info.value.offset == offset


@pytest.mark.parametrize(
    ("name", "text", "offset", "reason"),
    [
        ("bad.name", "x.sum", 0, "alias name"),
        ("r", "a.sum /", 7, "expected a metric name or a number"),
        ("r", "a / b.sum", 2, "needs a stat on both sides"),
        ("r", "a.sum / b", 9, "needs a stat on both sides"),
        ("r", "a.sum / 0", 8, "cannot divide by zero"),
        ("r", "a.sum + b.sum", 6, "expected ' / ' or the end"),
        ("r", "a.sum / b.sum c", 14, "unexpected text after the ratio"),
    ],
)
def test_alias_errors(name: str, text: str, offset: int, reason: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse_alias(name, text)
    assert reason in info.value.reason
    assert info.value.offset == offset
