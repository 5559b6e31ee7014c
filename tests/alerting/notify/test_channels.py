"""Slack and PagerDuty payloads, sent to a real HTTP receiver."""

from __future__ import annotations

import random
from collections.abc import Callable

from alerting.notify.httpclient import HttpClient
from alerting.notify.pagerduty import dedup_key
from alerting.notify.sender import AttemptLog, ChannelSender, build_requests
from alerting.rules.state import State
from tests.alerting.conftest import FakeClock, Sleeps
from tests.alerting.notify.helpers import T0, channels, make_alert, make_notification
from tests.alerting.receivers import HttpReceiver


async def test_slack_incoming_webhook(
    http_receiver: Callable[..., HttpReceiver], clock: FakeClock, sleeps: Sleeps
) -> None:
    receiver = http_receiver()
    chans = channels(f'slack: {{type: slack, url: "{receiver.url}/services/T0/B0/SECRET", channel: "#ops"}}\n')
    notification = make_notification(
        make_alert(channels=("slack",)),
        make_alert(rule="x", state=State.RESOLVED, channels=("slack",)),
        channel="slack",
    )
    async with HttpClient() as client:
        (delivery,) = await ChannelSender(client, recorder=AttemptLog(), clock=clock, sleep=sleeps).send(
            chans["slack"], notification
        )
    assert delivery.delivered and delivery.target == f"{receiver.url}/****"
    (request,) = receiver.requests
    assert request.path == "/services/T0/B0/SECRET"
    body = request.json()
    assert body["channel"] == "#ops" and body["text"] == "[FIRING:1] high_response_time, x (service=gateway)"
    firing, resolved = body["attachments"]
    assert (
        firing["color"] == "#e8a33d"
        and "firing" in firing["title"]
        and firing["text"] == "high_response_time on gateway: 250"
    )
    assert resolved["color"] == "#2eb67d" and "resolved" in resolved["title"]


async def test_pagerduty_trigger_then_resolve_share_one_dedup_key(
    http_receiver: Callable[..., HttpReceiver], clock: FakeClock, sleeps: Sleeps
) -> None:
    receiver = http_receiver(default=202)
    chans = channels(f'pd: {{type: pagerduty, routing_key: "R0UT1NG", url: "{receiver.url}/v2/enqueue"}}\n')
    firing = make_alert(rule="high_error_rate", severity="critical", channels=("pd",))
    resolved = make_alert(rule="high_error_rate", severity="critical", state=State.RESOLVED, channels=("pd",))
    log = AttemptLog()
    async with HttpClient() as client:
        sender = ChannelSender(client, recorder=log, clock=clock, sleep=sleeps, rng=random.Random(0))
        assert all(d.delivered for d in await sender.send(chans["pd"], make_notification(firing, channel="pd")))
        assert all(d.delivered for d in await sender.send(chans["pd"], make_notification(resolved, channel="pd")))
    trigger, resolve = (r.json() for r in receiver.requests)
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "high_error_rate{service=gateway}" == dedup_key(firing)
    assert trigger["routing_key"] == "R0UT1NG"
    assert trigger["payload"] == {
        "summary": "high_error_rate on gateway: 250",
        "source": "gateway",
        "severity": "critical",
        "timestamp": "2023-11-14T22:13:20.000Z",
        "class": "high_error_rate",
        "custom_details": {"value": 250.0, "labels": dict(firing.labels), "annotations": dict(firing.annotations)},
        "component": "gateway",
    }
    assert "payload" not in resolve
    assert not any("R0UT1NG" in str(a.to_dict()) for a in log)


def test_pagerduty_sends_one_event_per_alert_and_long_keys_are_hashed() -> None:
    chans = channels('pd: {type: pagerduty, routing_key: "k"}\n')
    alerts = [make_alert(service=s, channels=("pd",)) for s in ("a", "b", "c")]
    requests = build_requests(chans["pd"], make_notification(*alerts, channel="pd"))
    assert len(requests) == 3 and all(r.target == "https://events.pagerduty.com/****" for r in requests)
    long = make_alert(service="s" * 300)
    key = dedup_key(long)
    assert len(key) <= 255 and key == dedup_key(make_alert(service="s" * 300)) and T0
