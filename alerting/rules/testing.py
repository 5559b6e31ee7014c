"""Rule unit tests, in the spirit of ``promtool test rules``: the engine of ``perfpulse rules test``.

A cases file gives input series, one value per window, and the alerts expected at chosen times::

    window: 10s                        # the stream window = evaluation interval (default 10s)
    tests:
      - name: slow gateway fires after 30 s
        input_series:
          - series: 'http.server.duration{service="gateway"}'   # or metric: + labels:
            values: "100 250 260 270 280"                        # value k is the window evaluated at k × window
            kind: distribution                                   # | counter | gauge (rate and counters)
        alert_rule_test:
          - eval_time: 30s
            alertname: high_response_time
            exp_alerts:
              - labels: {service: gateway}     # alertname and severity may be left out
                state: firing                  # pending | firing (default firing)
                annotations: {summary: "..."}  # only the keys given are compared

Values: numbers, ``_`` for a window without data, and promtool's expansions ``a+bxn`` / ``a-bxn``
(a, a±b, …, a±n·b) and ``axn`` (a, n+1 times), ``_xn`` (n empty windows). Each value stands for
one observation in its window, so every stat of a single series in a window is that value (sum =
value; count = 1); several series in one group, or a rule ``window`` spanning several windows, are
combined as if their values were observations of one digest. ``exp_alerts: []`` expects no pending
or firing alert of that name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import Node

from alerting.rules.evaluate import AlertKey, GroupKey, Selector, WindowStats, evaluate, selectors
from alerting.rules.matchers import MatcherSyntaxError, scan_matchers
from alerting.rules.ruleset import RuleSet, RulesInvalid, load_rules
from alerting.rules.state import AlertState, State
from alerting.rules.yamlnodes import Reader, RuleError, compose
from schemas.stats import Stat, exact_stats

__all__ = ["RuleTestFailure", "RuleTestReport", "ValuesError", "parse_values", "run_rule_tests", "run_rule_tests_text"]

_EXPAND = re.compile(r"^([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?:([-+])(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))?x(\d+)$")
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_CASE_KEYS = frozenset({"window", "tests"})
_TEST_KEYS = frozenset({"name", "input_series", "alert_rule_test"})
_SERIES_KEYS = frozenset({"series", "metric", "labels", "values", "kind"})
_CHECK_KEYS = frozenset({"eval_time", "alertname", "exp_alerts"})
_EXPECT_KEYS = frozenset({"labels", "exp_labels", "state", "annotations", "exp_annotations"})


@dataclass(frozen=True, slots=True)
class RuleTestFailure:
    test: str
    message: str

    def __str__(self) -> str:
        return f"{self.test}: {self.message}"


@dataclass(slots=True)
class RuleTestReport:
    """The outcome of a cases file: errors (files unusable), failures (expectations not met)."""

    tests: int = 0
    failures: list[RuleTestFailure] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors


class ValuesError(ValueError):
    """A values string that cannot be read; ``offset`` is where the bad token starts."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def parse_values(text: str) -> list[float | None]:
    """``"1 2+3x2 _ _x2"`` -> ``[1, 2, 5, 8, None, None, None]``; raises :class:`ValuesError` naming the bad token."""
    out: list[float | None] = []
    for match in re.finditer(r"\S+", text):
        token = match.group(0)
        if token == "_":
            out.append(None)
        elif token.startswith("_x") and token[2:].isdigit():
            out.extend([None] * int(token[2:]))
        elif _NUMBER.match(token):
            out.append(float(token))
        elif expansion := _EXPAND.match(token):
            start, sign, step, times = expansion.groups()
            delta = float(step or 0) * (-1 if sign == "-" else 1)
            out.extend(float(start) + i * delta for i in range(int(times) + 1))
        else:
            raise ValuesError(
                match.start(), f"cannot read value {token!r}: expected a number, '_', 'a+bxn', 'axn' or '_xn'"
            )
    return out


@dataclass(frozen=True, slots=True)
class _Series:
    metric: str
    labels: dict[str, str]
    values: list[float | None]
    counter: bool


@dataclass(frozen=True, slots=True)
class _Expected:
    labels: dict[str, str]
    state: State
    annotations: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Check:
    eval_ms: int
    alertname: str
    expected: list[_Expected]


def _read_series(reader: Reader, node: Node) -> _Series | None:
    fields = reader.mapping(node, "input series")
    if fields is None:
        return None
    reader.only_keys(fields, _SERIES_KEYS, "input series")
    metric, labels = None, {}
    if "series" in fields:
        text = reader.string(fields["series"][1], "series")
        if text is not None:
            name, brace, _ = text.partition("{")
            metric = name.strip()
            if brace:
                try:
                    matchers, end = scan_matchers(text, text.index("{"))
                    if text[end:].strip():
                        raise MatcherSyntaxError(end, f"unexpected text {text[end:]!r}")
                    labels = {m.name: m.value for m in matchers}
                except MatcherSyntaxError as exc:
                    reader.error(fields["series"][1], f"series: {exc.reason}", exc.offset)
    elif "metric" in fields:
        metric = reader.string(fields["metric"][1], "metric")
        if "labels" in fields:
            labels = {k: v for k, (v, _) in (reader.string_map(fields["labels"][1], "labels") or {}).items()}
    else:
        reader.error(node, "input series needs 'series' or 'metric'")
    values: list[float | None] = []
    if "values" not in fields:
        reader.error(node, "input series needs 'values'")
    elif (text := reader.text_value(fields["values"][1], "values")) is not None:
        try:
            values = parse_values(text)
        except ValuesError as exc:
            reader.error(fields["values"][1], exc.reason, exc.offset)
    kind = reader.string(fields["kind"][1], "kind") if "kind" in fields else "distribution"
    if kind not in ("distribution", "counter", "gauge"):
        reader.error(fields["kind"][1], f"kind must be distribution, counter or gauge, found {kind!r}")
    return _Series(metric, labels, values, kind == "counter") if metric else None


def _read_check(reader: Reader, node: Node, window_ms: int) -> _Check | None:
    fields = reader.mapping(node, "alert_rule_test entry")
    if fields is None:
        return None
    reader.only_keys(fields, _CHECK_KEYS, "alert_rule_test entry")
    for key in ("eval_time", "alertname"):
        if key not in fields:
            reader.error(node, f"alert_rule_test entry needs {key!r}")
            return None
    eval_ms = reader.duration(fields["eval_time"][1], "eval_time")
    if eval_ms is not None and eval_ms % window_ms:
        reader.error(fields["eval_time"][1], f"eval_time must be a multiple of the window ({window_ms} ms)")
    alertname = reader.string(fields["alertname"][1], "alertname")
    expected = []
    for item in reader.sequence(fields["exp_alerts"][1], "exp_alerts") or [] if "exp_alerts" in fields else []:
        exp = reader.mapping(item, "expected alert")
        if exp is None:
            continue
        reader.only_keys(exp, _EXPECT_KEYS, "expected alert")
        labels_node = exp.get("labels", exp.get("exp_labels"))
        annotations_node = exp.get("annotations", exp.get("exp_annotations"))
        labels = (
            {k: v for k, (v, _) in (reader.string_map(labels_node[1], "labels") or {}).items()} if labels_node else {}
        )
        annotations = (
            {k: v for k, (v, _) in (reader.string_map(annotations_node[1], "annotations") or {}).items()}
            if annotations_node
            else {}
        )
        state = State.FIRING
        if "state" in exp and (text := reader.string(exp["state"][1], "state")) is not None:
            if text in ("pending", "firing"):
                state = State(text)
            else:
                reader.error(exp["state"][1], f"state must be pending or firing, found {text!r}")
        expected.append(_Expected(labels, state, annotations))
    if eval_ms is None or alertname is None:
        return None
    return _Check(eval_ms, alertname, expected)


def _window_stats(ruleset: RuleSet, series: list[_Series], index: int, window_ms: int) -> WindowStats:
    values: dict[Selector, dict[GroupKey, dict[Stat, float]]] = {}
    for selector, wanted in selectors(ruleset).items():
        span = (selector.window_ms or window_ms) // window_ms
        pooled: dict[GroupKey, tuple[list[float], bool]] = {}
        for s in series:
            group = selector.group_of(s.metric, s.labels)
            if group is None:
                continue
            window_values = [v for v in s.values[max(0, index - span + 1) : index + 1] if v is not None]
            if window_values:
                bucket = pooled.setdefault(group, ([], s.counter))
                bucket[0].extend(window_values)
        values[selector] = {
            g: exact_stats(vals, counter=counter, window_ms=span * window_ms, wanted=wanted)
            for g, (vals, counter) in pooled.items()
        }
    return WindowStats(index * window_ms, values)


def _compare(
    test: str, check: _Check, ruleset: RuleSet, states: Mapping[AlertKey, AlertState]
) -> list[RuleTestFailure]:
    rule = ruleset.get(check.alertname)
    at = f"at {check.eval_ms / 1000:g}s, alert {check.alertname!r}"
    if rule is None:
        return [RuleTestFailure(test, f"{at}: no rule of that name in the rules file")]
    actual = []
    for (name, group), state in sorted(states.items()):
        if name == rule.name and state.state in (State.PENDING, State.FIRING):
            labels = rule.alert_labels(dict(group))
            actual.append((labels, state.state, rule.render_annotations(state.value, labels), state.value))
    unmatched = list(actual)
    failures = []
    for exp in check.expected:
        found = None
        for candidate in unmatched:
            labels, current, annotations, _ = candidate
            keep = {k: v for k, v in labels.items() if k not in ("alertname", "severity") or k in exp.labels}
            if (
                keep == exp.labels
                and current is exp.state
                and all(annotations.get(k) == v for k, v in exp.annotations.items())
            ):
                found = candidate
                break
        if found is None:
            failures.append(f"expected {exp.state.value} {exp.labels} {exp.annotations or ''}".rstrip())
        else:
            unmatched.remove(found)
    if failures or unmatched:
        got = "; ".join(f"{s.value} {dict(sorted(lab.items()))} value={v:g}" for lab, s, _, v in actual) or "no alerts"
        missing = "; ".join(failures)
        extra = f"; unexpected: {len(unmatched)} alert(s)" if unmatched else ""
        return [RuleTestFailure(test, f"{at}: {missing or 'expectations met'}{extra}; got: {got}")]
    return []


def _items(reader: Reader, fields: Mapping[str, tuple[Node, Node]], key: str) -> list[Node]:
    """The entries of the list under ``key`` (none when the key is absent)."""
    return (reader.sequence(fields[key][1], key) or []) if key in fields else []


def _read_test(
    reader: Reader, node: Node, index: int, window_ms: int
) -> tuple[str, list[_Series], list[_Check]] | None:
    fields = reader.mapping(node, f"test #{index + 1}")
    if fields is None:
        return None
    reader.only_keys(fields, _TEST_KEYS, f"test #{index + 1}")
    name = reader.string(fields["name"][1], "name") if "name" in fields else None
    series = [s for n in _items(reader, fields, "input_series") if (s := _read_series(reader, n)) is not None]
    checks = [
        c for n in _items(reader, fields, "alert_rule_test") if (c := _read_check(reader, n, window_ms)) is not None
    ]
    return name or f"test #{index + 1}", series, checks


def run_rule_tests_text(
    ruleset: RuleSet, cases_text: str, *, cases_file: str = "<cases>", window_ms: int | None = None
) -> RuleTestReport:
    """Run the cases in ``cases_text`` against ``ruleset`` (``window_ms``: default window when the file has none)."""
    reader = Reader(cases_file, cases_text)
    report = RuleTestReport()
    try:
        root = compose(cases_text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        report.errors.append(RuleError(cases_file, line, column, f"invalid YAML: {exc.problem}"))
        return report
    except yaml.YAMLError as exc:
        report.errors.append(RuleError(cases_file, 1, 1, f"invalid YAML: {exc}"))
        return report
    if root is None:
        report.errors.append(RuleError(cases_file, 1, 1, "the cases file is empty: expected 'tests:'"))
        return report
    top = reader.mapping(root, "the cases file")
    if top is None:
        report.errors.extend(reader.errors)
        return report
    reader.only_keys(top, _CASE_KEYS, "the cases file")
    window = reader.duration(top["window"][1], "window", allow_zero=False) if "window" in top else None
    window = window or window_ms or 10_000
    for rule in ruleset.rules:
        if rule.window_ms and rule.window_ms % window:
            reason = (
                f"rule {rule.name!r}: its window ({rule.window_ms} ms) is not a multiple of the window ({window} ms)"
            )
            reader.error(root, reason)
    if "tests" not in top:
        reader.error(root, "the cases file needs 'tests:'")
    cases = [
        t for i, n in enumerate(_items(reader, top, "tests")) if (t := _read_test(reader, n, i, window)) is not None
    ]
    if reader.errors:
        report.errors.extend(reader.errors)
        return report
    for name, series, checks in cases:
        report.tests += 1
        report.failures.extend(_run_case(ruleset, name, series, checks, window))
    return report


def _run_case(
    ruleset: RuleSet, name: str, series: list[_Series], checks: list[_Check], window_ms: int
) -> list[RuleTestFailure]:
    by_time: dict[int, list[_Check]] = {}
    for check in checks:
        by_time.setdefault(check.eval_ms // window_ms, []).append(check)
    last = max(by_time, default=-1)
    states: dict[AlertKey, AlertState] = {}
    failures = []
    for index in range(last + 1):
        states = evaluate(ruleset, _window_stats(ruleset, series, index, window_ms), states).states
        for check in by_time.get(index, []):
            failures.extend(_compare(name, check, ruleset, states))
    return failures


def run_rule_tests(rules_file: str | Path, cases_file: str | Path) -> RuleTestReport:
    """Load the rules of ``rules_file`` and run ``cases_file`` against it (``perfpulse rules test FILE
    CASES``). Channels are neither read nor contacted: cases check alerts, not deliveries."""
    report = RuleTestReport()
    try:
        cases_text = Path(cases_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report.errors.append(RuleError(str(cases_file), 1, 1, f"cannot read the cases file: {exc}"))
        return report
    try:
        ruleset = load_rules(rules_file)
    except RulesInvalid as exc:
        report.errors.extend(exc.errors)
        return report
    return run_rule_tests_text(ruleset, cases_text, cases_file=str(cases_file))
