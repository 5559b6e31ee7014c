"""Alerting: rules, the state machine, pure evaluation at window closes, and notifications.

Shaped like Prometheus's ``rules/`` and ``notifier/``: the rule engine (:func:`evaluate`) never does
I/O; the :class:`~alerting.notify.Notifier` takes its transitions and sends, with the sender and the
clock injected. This package imports only ``schemas`` and third-party libraries.

- Rules: :func:`load_rules`, :func:`parse_rules`, :func:`validate_rules`, :class:`RulesWatcher`.
- Evaluation (stream stage, per window close): :func:`selectors`, :class:`SelectorPlan` and
  :func:`collect_stats` (or your own grouping into :class:`WindowStats`), :func:`evaluate`,
  :func:`retire` on reload;
  :func:`encode_transition` for the ``alerts`` topic.
- Notifications (a notifier process or the API): :mod:`alerting.notify`.
- Rule unit tests (CLI): :func:`run_rule_tests`.
"""

from alerting.alert import Alert, AlertTransition, AlertWireError, decode_transition, encode_transition, fingerprint
from alerting.channels import Channel, ChannelType, RetryPolicy, Timing
from alerting.collect import Aggregate, SelectorPlan, collect_stats
from alerting.condition import DEFAULT_ALIASES, Alias, Condition, ConditionError, Op, parse_alias, parse_condition
from alerting.evaluate import (
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
from alerting.matchers import LabelMatcher, MatchOp, parse_matchers
from alerting.rules import (
    ParseResult,
    Rule,
    RuleError,
    RuleSet,
    RulesInvalid,
    RuleWarning,
    Severity,
    load_rules,
    parse_rules,
    validate_rules,
)
from alerting.state import AlertState, State, Transition, step
from alerting.stats import Stat, exact_stats, window_stats
from alerting.testing import RuleTestReport, run_rule_tests, run_rule_tests_text
from alerting.watch import RulesWatcher

__all__ = [
    "DEFAULT_ALIASES",
    "Aggregate",
    "Alert",
    "AlertKey",
    "AlertState",
    "AlertTransition",
    "AlertWireError",
    "Alias",
    "Channel",
    "ChannelType",
    "Condition",
    "ConditionError",
    "Evaluation",
    "GroupKey",
    "LabelMatcher",
    "MatchOp",
    "Op",
    "ParseResult",
    "RetryPolicy",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleTestReport",
    "RuleWarning",
    "RulesInvalid",
    "RulesWatcher",
    "Selector",
    "SelectorPlan",
    "Severity",
    "Stat",
    "State",
    "Timing",
    "Transition",
    "WindowStats",
    "collect_stats",
    "decode_transition",
    "encode_transition",
    "evaluate",
    "exact_stats",
    "fingerprint",
    "group_key",
    "load_rules",
    "parse_alias",
    "parse_condition",
    "parse_matchers",
    "parse_rules",
    "retire",
    "run_rule_tests",
    "run_rule_tests_text",
    "selectors",
    "step",
    "validate_rules",
    "window_stats",
]
