"""The notifier end to end: evaluator transitions in, real HTTP receivers out, time stepped by hand."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import pytest

from alerting.notify.channels import Channel
from alerting.notify.httpclient import HttpClient
from alerting.notify.model import AttemptOutcome
from alerting.notify.notifier import Notifier
from alerting.notify.sender import AttemptLog, ChannelSender
from alerting.notify.webhook import verify_signature
from alerting.rules import AlertKey, AlertState, GroupKey, RuleSet, Selector, WindowStats, evaluate, selectors
from alerting.rules.state import State
from schemas.stats import Stat
from tests.alerting.conftest import FakeClock, Sleeps
from tests.alerting.receivers import HttpReceiver

W = 10_000


Channels = Mapping[str, Channel]


def rules_for(
    url: str, rules_text: Callable[..., RuleSet], channels_text: Callable[..., Channels], extra: str = ""
) -> tuple[RuleSet, Channels]:
    """The rules and the channels of one rules file, as the stream stage and the notifier read it."""
    text = f"""\
        defaults: {{group_wait: 1s, group_interval: 10s, repeat_interval: 1h, max_attempts: 4}}
        channels:
          hook: {{type: webhook, url: "{url}/hook?token=url-token-123", secret: "${{HOOK_SECRET}}"}}
        alerts:
          - name: high_response_time
            condition: response_time.p95 > 200
            severity: warning
            notification: [hook]
          - name: high_error_rate
            condition: error_rate > 0.05
            severity: critical
            notification: [hook]
        {extra}"""
    return rules_text(text), channels_text(text, env={"HOOK_SECRET": "hmac-secret-456"})


def window(ruleset: RuleSet, end_ms: int, p95: dict[str, float], errors: dict[str, float] | None = None) -> WindowStats:
    values: dict[Selector, Mapping[GroupKey, Mapping[Stat, float]]] = {}
    for selector in selectors(ruleset):
        if selector.metric == "http.server.duration":
            values[selector] = {(("service", s),): {Stat.P95: v} for s, v in p95.items()}
        elif selector.metric == "span.calls":
            values[selector] = {(("service", s),): {Stat.SUM: 100.0} for s in (errors or {})}
        elif selector.metric == "span.errors":
            values[selector] = {(("service", s),): {Stat.SUM: v} for s, v in (errors or {}).items()}
    return WindowStats(end_ms, values)


class Harness:
    """Evaluator + notifier wired as the stream stage and the notifier process would be."""

    def __init__(
        self, ruleset: RuleSet, channels: Channels, notifier: Notifier, clock: FakeClock, log: AttemptLog
    ) -> None:
        self.ruleset, self.channels, self.notifier, self.clock, self.log = ruleset, channels, notifier, clock, log
        self.states: dict[AlertKey, AlertState] = {}

    def close_window(self, p95: dict[str, float], errors: dict[str, float] | None = None) -> None:
        result = evaluate(self.ruleset, window(self.ruleset, self.clock(), p95, errors), self.states)
        self.states = result.states
        self.notifier.receive(result.transitions)


@pytest.fixture
def harness(
    rules_text: Callable[..., RuleSet], channels_text: Callable[..., Channels], clock: FakeClock, sleeps: Sleeps
) -> Callable[..., object]:
    @asynccontextmanager
    async def make(receiver: HttpReceiver) -> AsyncIterator[Harness]:
        ruleset, channels = rules_for(receiver.url, rules_text, channels_text)
        log = AttemptLog()
        async with HttpClient() as client:
            notifier = Notifier(
                channels, sender=ChannelSender(client, recorder=log, clock=clock, sleep=sleeps), clock=clock
            )
            yield Harness(ruleset, channels, notifier, clock, log)

    return make


def told(receiver: HttpReceiver) -> list[list[tuple[str, str, str]]]:
    """Per delivered request: (alertname, service, status) of each alert."""
    return [
        [(a["labels"]["alertname"], a["labels"]["service"], a["status"]) for a in r.json()["alerts"]]
        for r in receiver.delivered()
    ]


async def test_fire_group_and_resolve(
    http_receiver: Callable[..., HttpReceiver], harness: Callable[..., object], clock: FakeClock
) -> None:
    receiver = http_receiver()
    async with harness(receiver) as h:  # type: ignore[attr-defined]
        h.close_window({"gateway": 300.0, "frontend": 320.0, "orchestrator": 50.0})
        assert await h.notifier.flush() == [] and receiver.requests == [], "group_wait first"
        clock.advance(1_000)
        sent = await h.notifier.flush()
        assert len(sent) == 2 and all(s.delivered for s in sent)
        assert sorted(told(receiver)) == [
            [("high_response_time", "frontend", "firing")],
            [("high_response_time", "gateway", "firing")],
        ]
        clock.advance(9_000)
        h.close_window({"gateway": 300.0, "frontend": 320.0})
        clock.advance(1_000)
        assert await h.notifier.flush() == [], "nothing new: nothing sent"
        h.close_window({"gateway": 90.0, "frontend": 320.0})
        clock.advance(10_000)
        assert len(await h.notifier.flush()) == 1
        assert told(receiver)[-1] == [("high_response_time", "gateway", "resolved")]
        body = receiver.delivered()[-1]
        assert verify_signature(
            "hmac-secret-456", body.headers["x-perfpulse-signature"], body.body, now_s=clock() // 1000
        )
        assert [s.alert.state for s in h.notifier.alerts()] == [State.FIRING, State.RESOLVED]


async def test_503_twice_then_200_through_the_notifier(
    http_receiver: Callable[..., HttpReceiver], harness: Callable[..., object], clock: FakeClock
) -> None:
    receiver = http_receiver([503, 503])
    async with harness(receiver) as h:  # type: ignore[attr-defined]
        h.close_window({"gateway": 300.0})
        (result,) = await h.notifier.flush(clock.advance(1_000))
        assert result.delivered and len(receiver.delivered()) == 1 and receiver.statuses == [503, 503, 200]
        assert [a.outcome for a in [a for a in h.log if a.notification_id == result.notification.id]] == [
            AttemptOutcome.RETRY,
            AttemptOutcome.RETRY,
            AttemptOutcome.DELIVERED,
        ]
        assert h.notifier.dead_letters() == []


async def test_400_is_dead_lettered_after_one_attempt_and_can_be_redelivered(
    http_receiver: Callable[..., HttpReceiver], harness: Callable[..., object], clock: FakeClock
) -> None:
    receiver = http_receiver([400])
    async with harness(receiver) as h:  # type: ignore[attr-defined]
        h.close_window({"gateway": 300.0})
        (result,) = await h.notifier.flush(clock.advance(1_000))
        assert not result.delivered and len(receiver.requests) == 1
        assert len([a for a in h.log if a.notification_id == result.notification.id]) == 1
        (letter,) = h.notifier.dead_letters()
        assert letter.attempts == 1 and letter.reason.startswith("HTTP 400") and letter.target.endswith("/****")
        assert "url-token-123" not in json.dumps(letter.to_dict())
        clock.advance(10_000)
        assert await h.notifier.flush() == [], "a dead letter counts as told: no resend storm"
        again = await h.notifier.redeliver(letter.id)
        assert again.delivered and h.notifier.dead_letters() == [] and len(receiver.delivered()) == 1


async def test_dead_letters_survive_a_restart_and_can_be_redelivered_after_it(
    http_receiver: Callable[..., HttpReceiver], harness: Callable[..., object], clock: FakeClock
) -> None:
    receiver = http_receiver([400])
    async with harness(receiver) as h:  # type: ignore[attr-defined]
        h.close_window({"gateway": 300.0})
        await h.notifier.flush(clock.advance(1_000))
        (letter,) = h.notifier.dead_letters()
        saved = json.loads(json.dumps(h.notifier.snapshot()))
        restarted = Notifier(h.channels, sender=h.notifier._sender, clock=clock)
        restarted.restore(saved)
        (restored,) = restarted.dead_letters()
        assert restored.to_dict() == letter.to_dict()
        assert restored.notification.group_labels == letter.notification.group_labels
        again = await restarted.redeliver(letter.id)
        assert again.delivered and restarted.dead_letters() == [] and len(receiver.delivered()) == 1
        assert receiver.delivered()[0].json()["groupLabels"] == dict(letter.notification.group_labels)


async def test_silence_mutes_and_its_end_makes_the_alert_news(
    http_receiver: Callable[..., HttpReceiver], harness: Callable[..., object], clock: FakeClock
) -> None:
    receiver = http_receiver()
    async with harness(receiver) as h:  # type: ignore[attr-defined]
        silence = h.notifier.silences.add(
            'service="gateway"',
            starts_at_ms=clock(),
            ends_at_ms=clock() + 60_000,
            comment="deploy",
            creator="ana",
            now_ms=clock(),
        )
        h.close_window({"gateway": 300.0, "frontend": 300.0})
        await h.notifier.flush(clock.advance(1_000))
        assert told(receiver) == [[("high_response_time", "frontend", "firing")]]
        (gateway,) = [s for s in h.notifier.alerts() if s.alert.group["service"] == "gateway"]
        assert gateway.silenced_by == (silence.id,)
        h.notifier.silences.expire(silence.id, clock.advance(5_000))
        await h.notifier.flush(clock.advance(5_000))
        assert told(receiver)[-1] == [("high_response_time", "gateway", "firing")]


async def test_critical_inhibits_warnings_of_the_same_service(
    http_receiver: Callable[..., HttpReceiver], harness: Callable[..., object], clock: FakeClock
) -> None:
    receiver = http_receiver()
    async with harness(receiver) as h:  # type: ignore[attr-defined]
        h.close_window({"gateway": 300.0, "frontend": 300.0}, errors={"gateway": 20.0})
        await h.notifier.flush(clock.advance(1_000))
        assert sorted(told(receiver)) == [
            [("high_error_rate", "gateway", "firing")],
            [("high_response_time", "frontend", "firing")],
        ]
        statuses = {(s.alert.rule, s.alert.group["service"]): s.inhibited_by for s in h.notifier.alerts()}
        critical = next(s.alert for s in h.notifier.alerts() if s.alert.rule == "high_error_rate")
        assert statuses[("high_response_time", "gateway")] == critical.fingerprint
        h.close_window(
            {"gateway": 300.0, "frontend": 300.0}, errors={"gateway": 0.0}
        )  # errors over, latency still high
        await h.notifier.flush(clock.advance(10_000))
        assert sorted(told(receiver)[-2:]) == [
            [("high_error_rate", "gateway", "resolved")],
            [("high_response_time", "gateway", "firing")],
        ]


async def test_restart_while_firing_neither_repeats_nor_forgets(
    http_receiver: Callable[..., HttpReceiver],
    rules_text: Callable[..., RuleSet],
    channels_text: Callable[..., Channels],
    clock: FakeClock,
    sleeps: Sleeps,
) -> None:
    receiver = http_receiver()
    ruleset, channels = rules_for(receiver.url, rules_text, channels_text)
    async with HttpClient() as client:
        first = Harness(
            ruleset,
            channels,
            Notifier(channels, sender=ChannelSender(client, recorder=AttemptLog(), sleep=sleeps), clock=clock),
            clock,
            AttemptLog(),
        )
        first.close_window({"gateway": 300.0})
        await first.notifier.flush(clock.advance(1_000))
        assert len(receiver.delivered()) == 1
        # persist both halves (evaluator states, notifier state) as JSON, then "restart"
        saved_states = json.dumps([[k[0], [list(p) for p in k[1]], s.to_dict()] for k, s in first.states.items()])
        saved_notifier = json.dumps(first.notifier.snapshot())

        second = Harness(
            ruleset,
            channels,
            Notifier(channels, sender=ChannelSender(client, recorder=AttemptLog(), sleep=sleeps), clock=clock),
            clock,
            AttemptLog(),
        )
        second.states = {
            (n, tuple(tuple(p) for p in g)): AlertState.from_dict(s) for n, g, s in json.loads(saved_states)
        }
        second.notifier.restore(json.loads(saved_notifier))
        for _ in range(3):
            clock.advance(W)
            second.close_window({"gateway": 300.0})
            assert await second.notifier.flush() == []
        assert len(receiver.delivered()) == 1, "no second 'firing' after the restart"
        clock.advance(W)
        second.close_window({"gateway": 50.0})
        await second.notifier.flush(clock.advance(W))
        assert told(receiver)[-1] == [("high_response_time", "gateway", "resolved")]


async def test_disabled_and_undefined_channels_send_nothing(
    http_receiver: Callable[..., HttpReceiver],
    rules_text: Callable[..., RuleSet],
    channels_text: Callable[..., Channels],
    clock: FakeClock,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = http_receiver()
    text = f"""\
        channels:
          dark: {{type: slack, url: "${{UNSET_SLACK_URL}}"}}
          lit: {{type: webhook, url: "{receiver.url}/lit", group_wait: 0s}}
        alerts: [{{name: a, condition: response_time.p95 > 1, notification: [dark, lit]}}]
        """
    ruleset, channels = rules_text(text), channels_text(text)
    async with HttpClient() as client:
        notifier = Notifier(channels, sender=ChannelSender(client, recorder=AttemptLog(), sleep=sleeps), clock=clock)
        result = evaluate(ruleset, window(ruleset, clock(), {"gateway": 5.0}), {})
        notifier.receive(result.transitions)
        (sent,) = await notifier.flush()
        assert sent.notification.channel == "lit" and len(receiver.requests) == 1
        notifier.set_channels({"lit": channels["lit"]})
        with caplog.at_level(logging.WARNING, logger="alerting.notify"):
            notifier.receive([result.transitions[0]])
        assert "names channel 'dark', which is not defined" in caplog.text


async def test_secrets_never_reach_the_logs(
    http_receiver: Callable[..., HttpReceiver],
    harness: Callable[..., object],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = http_receiver(default=503)
    with caplog.at_level(logging.DEBUG):
        async with harness(receiver) as h:  # type: ignore[attr-defined]
            h.close_window({"gateway": 300.0})
            (result,) = await h.notifier.flush(clock.advance(1_000))
            assert not result.delivered and len(receiver.requests) == 4
    assert "dead-lettered after 4 attempt(s)" in caplog.text
    for secret in ("url-token-123", "hmac-secret-456"):
        assert secret not in caplog.text
        assert all(secret not in json.dumps(a.to_dict()) for a in h.log)


async def test_run_loop_sends_on_its_own(
    http_receiver: Callable[..., HttpReceiver],
    rules_text: Callable[..., RuleSet],
    channels_text: Callable[..., Channels],
) -> None:
    receiver = http_receiver()
    text = f"""\
        channels: {{lit: {{type: webhook, url: "{receiver.url}/lit", group_wait: 0s}}}}
        alerts: [{{name: a, condition: response_time.p95 > 1, notification: [lit]}}]
        """
    ruleset, channels = rules_text(text), channels_text(text)
    async with HttpClient() as client:
        notifier = Notifier(channels, sender=ChannelSender(client, recorder=AttemptLog()))
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.run(stop, idle_s=0.05))
        notifier.receive(evaluate(ruleset, window(ruleset, 1, {"gateway": 5.0}), {}).transitions)
        for _ in range(100):
            if receiver.requests:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 2)
    assert len(receiver.delivered()) == 1


async def test_a_group_still_retrying_is_not_sent_twice(
    http_receiver: Callable[..., HttpReceiver], harness: Callable[..., object], clock: FakeClock
) -> None:
    receiver = http_receiver(delays=[0.3])
    async with harness(receiver) as h:  # type: ignore[attr-defined]
        h.close_window({"gateway": 300.0})
        first = asyncio.create_task(h.notifier.flush(clock.advance(1_000)))
        await asyncio.sleep(0.05)
        assert await h.notifier.flush(clock.advance(60_000)) == [], "in flight: skipped"
        (result,) = await first
        assert result.delivered and len(receiver.requests) == 1
