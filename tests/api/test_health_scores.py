"""The health score from figures and alerts: 1 on target, the lowest factor of the figures over
their targets, alerts by severity, muted alerts and other services' alerts ignored."""

from __future__ import annotations

import pytest

from alerting.notify.notifier import AlertStatus
from alerting.rules import Alert, State
from api.health_scores import alerts_on, health_score


def status(service: str, severity: str = "critical", state: State = State.FIRING, **more: str) -> AlertStatus:
    labels = {"alertname": f"slow_{severity}", "severity": severity, "service": service, **more}
    alert = Alert(
        rule=f"slow_{severity}", labels=labels, group={"service": service, **more}, annotations={},
        severity=severity, state=state, value=300.0, active_at_ms=1_000, fired_at_ms=2_000, resolved_at_ms=None,
    )  # fmt: skip
    return AlertStatus(alert, silenced_by=(), inhibited_by=None)


def test_on_target_scores_one_without_reasons() -> None:
    scored = health_score(1_000, 1, [20.0, 150.0, 450.0], [])
    assert scored["score"] == 1.0 and scored["reasons"] == []
    assert (scored["requests"], scored["errors"], scored["error_rate"]) == (1_000, 1, 0.001)
    assert (scored["p50"], scored["p95"], scored["p99"]) == (20.0, 150.0, 450.0)


def test_the_lowest_factor_of_the_figures_over_target() -> None:
    scored = health_score(1_000, 0, [40.0, 400.0, 600.0], [])  # p95 at 2x its target, p99 at 1.2x
    assert scored["score"] == pytest.approx(0.5)
    assert scored["reasons"] == ["p95 400.0 ms over 200 ms: x0.5", "p99 600.0 ms over 500 ms: x0.833"]
    errors = health_score(1_000, 10, [10.0, 20.0, 30.0], [])  # 1 % errors against 0.1 %
    assert errors["score"] == pytest.approx(0.1) and errors["reasons"] == ["error rate 1.000% over 0.1%: x0.1"]


def test_firing_alerts_lower_the_score_by_severity() -> None:
    assert health_score(10, 0, [1.0, 2.0, 3.0], [status("api", "warning")])["score"] == 0.75
    scored = health_score(10, 0, [1.0, 2.0, 3.0], [status("api", "warning"), status("api", "critical")])
    assert scored["score"] == 0.25
    assert [a["rule"] for a in scored["alerts"]] == ["slow_warning", "slow_critical"]
    assert scored["alerts"][1]["since"] == 2_000 and len(scored["alerts"][1]["fingerprint"]) == 16
    assert health_score(10, 0, [1.0, 2.0, 3.0], [status("api", "info")])["score"] == 1.0


def test_no_requests_is_not_held_against_it() -> None:
    scored = health_score(0, 0, [], [])
    assert scored["score"] == 1.0 and scored["error_rate"] is None and scored["p95"] is None
    assert scored["reasons"] == ["no requests in the window: no latency or error figure"]


def test_alerts_on_a_service_or_instance() -> None:
    service_wide, on_a, on_b = status("api"), status("api", instance="a"), status("api", instance="b")
    muted = AlertStatus(status("api").alert, silenced_by=("s1",), inhibited_by=None)
    inhibited = AlertStatus(status("api").alert, silenced_by=(), inhibited_by="0123456789abcdef")
    others = [status("web"), status("api", state=State.PENDING), status("api", state=State.RESOLVED), muted, inhibited]
    every = [service_wide, on_a, on_b, *others]
    assert alerts_on(every, "api", None) == [service_wide, on_a, on_b]
    assert alerts_on(every, "api", "a") == [service_wide, on_a]
    assert alerts_on(every, "api", "c") == [service_wide]
