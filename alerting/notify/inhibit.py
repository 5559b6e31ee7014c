"""Inhibition: a firing alert mutes lesser alerts about the same thing (Alertmanager's inhibit rules).

The default rule: a firing ``critical`` alert mutes ``warning`` and ``info`` alerts of the same
group — the target has the same values for every label of the source's group (by default its
service). Why: (1) when the error rate of gateway is critical, its latency warning adds nothing;
(2) the group is the unit the rule author chose, so "the same thing" is theirs to define.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alerting.rules.alert import Alert
from alerting.rules.matchers import LabelMatcher, MatchOp
from alerting.rules.state import State

__all__ = ["DEFAULT_INHIBIT_RULES", "InhibitRule", "inhibited_by"]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """Firing alerts matching ``source`` mute alerts matching ``target`` that share the ``equal`` labels."""

    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...] | None = None  # label names; None: the source alert's group labels

    def inhibits(self, source: Alert, target: Alert) -> bool:
        if source.fingerprint == target.fingerprint or source.state is not State.FIRING:
            return False
        if not all(m.matches(source.labels) for m in self.source):
            return False
        if not all(m.matches(target.labels) for m in self.target):
            return False
        names = self.equal if self.equal is not None else tuple(source.group)
        return all(source.labels.get(n, "") == target.labels.get(n, "") for n in names)


DEFAULT_INHIBIT_RULES: tuple[InhibitRule, ...] = (
    InhibitRule(
        source=(LabelMatcher.of("severity", MatchOp.EQ, "critical"),),
        target=(LabelMatcher.of("severity", MatchOp.RE, "warning|info"),),
    ),
)


def inhibited_by(
    target: Alert, active: Iterable[Alert], rules: Iterable[InhibitRule] = DEFAULT_INHIBIT_RULES
) -> str | None:
    """The fingerprint of a firing alert in ``active`` that inhibits ``target``, or None."""
    rule_list = tuple(rules)
    for source in active:
        if any(rule.inhibits(source, target) for rule in rule_list):
            return source.fingerprint
    return None
