"""A health score (0 to 1) of a service or instance from its recent RED figures and firing alerts,
with the reasons. Pure: the route reads the figures and alerts (:mod:`api.servicehealth`).

Each figure over its target contributes a factor, and the score is the lowest factor (1.0 when
nothing is over):

- latency: ``target / value`` for each of p50, p95 and p99 over its target (spec: 50, 200 and
  500 ms), so a p95 of 400 ms gives 0.5 and one of 2 s gives 0.1;
- errors: ``target / error_rate`` over the target (spec: 0.1 %), so 0.2 % gives 0.5 and 1 % gives 0.1;
- alerts: each firing alert on it that no silence or inhibition mutes: ``critical`` 0.25,
  ``warning`` 0.75 (``info`` and other severities: listed, no factor).

Why the lowest and not a product: one bad figure is enough to send less traffic, and the score
then reads as that figure's distance from its target. Why ratios: they never reach 0 for a slow
backend that still answers, so a load balancer weighting by the score keeps probing it, and they
need no second, arbitrary "zero" point. No requests in the window: nothing counts against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alerting.notify.notifier import AlertStatus
from alerting.rules import State

__all__ = ["ALERT_FACTORS", "TARGETS", "Targets", "alerts_on", "health_score"]

ALERT_FACTORS = {"critical": 0.25, "warning": 0.75}


@dataclass(frozen=True, slots=True)
class Targets:
    """What a healthy service meets (performance-monitoring-spec: API response time and error rate)."""

    p50_ms: float = 50.0
    p95_ms: float = 200.0
    p99_ms: float = 500.0
    error_rate: float = 0.001  # 0.1 %


TARGETS = Targets()


def alerts_on(statuses: Iterable[AlertStatus], service: str, instance: str | None) -> list[AlertStatus]:
    """The firing, unmuted alerts of ``service`` (labelled with it), for an ``instance`` those labelled
    with it or with no instance label (a service-wide alert concerns every instance)."""
    return [
        s
        for s in statuses
        if s.alert.state is State.FIRING
        and not s.silenced_by
        and s.inhibited_by is None
        and s.alert.labels.get("service") == service
        and (instance is None or s.alert.labels.get("instance", instance) == instance)
    ]


def health_score(
    requests: int,
    errors: int,
    latencies: Sequence[float],
    alerts: Sequence[AlertStatus],
    targets: Targets = TARGETS,
) -> dict[str, Any]:
    """``score``, the figures (``requests``, ``errors``, ``error_rate``, ``p50``, ``p95``, ``p99``:
    ``latencies`` at those levels, ms), the ``alerts`` and the ``reasons`` (one per factor)."""
    factors: list[tuple[float, str]] = []
    error_rate = errors / requests if requests else None
    figures: dict[str, float | None] = dict.fromkeys(("p50", "p95", "p99"))
    if requests:
        figures.update(zip(("p50", "p95", "p99"), latencies, strict=True))
        limits = {"p50": targets.p50_ms, "p95": targets.p95_ms, "p99": targets.p99_ms}
        for level, limit in limits.items():
            value = figures[level]
            if value is not None and value > limit:
                factors.append((limit / value, f"{level} {value:.1f} ms over {limit:g} ms"))
        if error_rate is not None and error_rate > targets.error_rate:
            factors.append(
                (targets.error_rate / error_rate, f"error rate {error_rate:.3%} over {targets.error_rate:.1%}")
            )
    for status in alerts:
        alert = status.alert
        factor = ALERT_FACTORS.get(alert.severity, 1.0)
        factors.append((factor, f"alert {alert.rule} ({alert.severity}) firing"))
    reasons = [f"{why}: x{factor:.3g}" for factor, why in factors]
    if not requests:
        reasons.append("no requests in the window: no latency or error figure")
    return {
        "score": min([1.0, *(factor for factor, _ in factors)]),
        "requests": requests,
        "errors": errors,
        "error_rate": error_rate,
        **figures,
        "alerts": [
            {
                "rule": s.alert.rule,
                "severity": s.alert.severity,
                "fingerprint": s.alert.fingerprint,
                "since": s.alert.fired_at_ms,
            }
            for s in alerts
        ],
        "reasons": reasons,
    }
