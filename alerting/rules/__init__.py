"""Alert rules: the rules file, the state machine and pure evaluation at window closes.

What the stream stage needs to evaluate rules, and nothing of notification: shaped like Prometheus's
``rules/``, the engine (:func:`evaluate`) never does I/O. Of the rules file's ``channels:`` only the
names are read here; channel settings, secrets and ``${VAR}`` belong to :mod:`alerting.notify`. The
rule unit-test runner (:mod:`alerting.rules.testing`) and the rules-file editor
(:mod:`alerting.rules.editor`) are imported explicitly by the CLI and the API.

- Rules: :func:`load_rules`, :func:`parse_rules`, :func:`validate_rules`, :class:`RulesWatcher`.
- Evaluation (per window close): :func:`selectors`, :class:`SelectorPlan` and :func:`collect_stats`
  (or your own grouping into :class:`WindowStats`), :func:`evaluate`, :func:`retire` on reload.
"""

from alerting.rules.alert import (
    Alert,
    AlertTransition,
    fingerprint,
    state_entry,
    state_from_entry,
    transition_from_record,
    transition_record,
)
from alerting.rules.collect import Aggregate, SelectorPlan, collect_stats
from alerting.rules.condition import DEFAULT_ALIASES, Alias, Condition, ConditionError, Op, parse_alias, parse_condition
from alerting.rules.evaluate import (
    AlertKey,
    Evaluation,
    GroupKey,
    Selector,
    WindowStats,
    evaluate,
    group_key,
    retire,
    selectors,
)
from alerting.rules.matchers import LabelMatcher, MatchOp, parse_matchers
from alerting.rules.ruleset import (
    ParseResult,
    Rule,
    RuleError,
    RuleSet,
    RulesInvalid,
    Severity,
    load_rules,
    parse_rules,
    read_rules_file,
    validate_rules,
)
from alerting.rules.state import AlertState, State, Transition, step
from alerting.rules.watch import FileStamp, RulesWatcher
from alerting.rules.yamlnodes import RuleWarning
from schemas.stats import Stat, exact_stats, window_stats

__all__ = [
    "DEFAULT_ALIASES",
    "Aggregate",
    "Alert",
    "AlertKey",
    "AlertState",
    "AlertTransition",
    "Alias",
    "Condition",
    "ConditionError",
    "Evaluation",
    "FileStamp",
    "GroupKey",
    "LabelMatcher",
    "MatchOp",
    "Op",
    "ParseResult",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleWarning",
    "RulesInvalid",
    "RulesWatcher",
    "Selector",
    "SelectorPlan",
    "Severity",
    "Stat",
    "State",
    "Transition",
    "WindowStats",
    "collect_stats",
    "evaluate",
    "exact_stats",
    "fingerprint",
    "group_key",
    "load_rules",
    "parse_alias",
    "parse_condition",
    "parse_matchers",
    "parse_rules",
    "read_rules_file",
    "retire",
    "selectors",
    "state_entry",
    "state_from_entry",
    "step",
    "transition_from_record",
    "transition_record",
    "validate_rules",
    "window_stats",
]
