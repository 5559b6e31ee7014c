from __future__ import annotations

from alerting.notify.inhibit import inhibited_by
from alerting.rules.state import State
from tests.alerting.notify.helpers import make_alert


def test_a_firing_critical_alert_mutes_warnings_of_its_group() -> None:
    critical = make_alert("high_error_rate", "gateway", severity="critical")
    warning = make_alert("high_response_time", "gateway")
    info = make_alert("slow_db", "gateway", severity="info")
    elsewhere = make_alert("high_response_time", "frontend")
    assert inhibited_by(warning, [critical, warning]) == critical.fingerprint
    assert inhibited_by(info, [critical]) == critical.fingerprint
    assert inhibited_by(elsewhere, [critical]) is None, "another group"
    assert inhibited_by(critical, [critical]) is None, "never itself"
    other_critical = make_alert("disk", "gateway", severity="critical")
    assert inhibited_by(other_critical, [critical]) is None, "criticals are not muted"


def test_only_firing_sources_inhibit_and_finer_targets_match_on_the_source_group() -> None:
    resolved = make_alert("high_error_rate", "gateway", severity="critical", state=State.RESOLVED)
    warning = make_alert("high_response_time", "gateway")
    assert inhibited_by(warning, [resolved]) is None
    per_route = make_alert("route_latency", "gateway", extra={"route": "/api"})
    assert inhibited_by(per_route, [make_alert("high_error_rate", "gateway", severity="critical")]) is not None
