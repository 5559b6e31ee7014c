"""The notifier of the API process end to end: alert transitions produced to the real ``alerts``
topic as the stream stage produces them, a real webhook receiver configured in a rules file, the
real app (sink and notifier) on a real chDB store.

- one delivery per firing; re-emitted identities (a stream worker's replay) deliver nothing;
- the API process stopped and started again while the alert fires: no second firing
  notification, and the later resolution is delivered; the same after the notifier is killed
  (its tasks cancelled, no shutdown save);
- a permanent failure is dead-lettered, visible in the API, redelivered on request;
- an alerts topic recreated under the saved state is read from its start, not from the old position.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alerting.notify import verify_signature
from alerting.notify.silences import new_silence
from alerting.notify.view import NotifierView, state_document
from alerting.rules import Alert, AlertTransition, State, transition_record
from perfpulse.settings import Settings
from perfpulse.stages import migration_params, notifier_name, notifier_stage
from perfpulse.topics import ensure_topics
from schemas.alerts import encode_transition
from schemas.notifier import CommandKind
from storage import apply_migrations, open_store
from storage.alerts import NotifierTables, commands_since, queue_command
from tests.alerting.receivers import HttpReceiver, start_http
from tests.api.apps import running_app
from tests.storage.test_sink import produce

pytestmark = pytest.mark.integration

HMAC_SECRET = "hmac-s3cret-value"
SETTLE_S = 2.5  # more than group_interval: time for a wrong second notification to show up


@pytest.fixture
def receiver() -> Iterator[Callable[..., HttpReceiver]]:
    stops: list[Iterator[HttpReceiver]] = []

    def start(script: list[int] | None = None) -> HttpReceiver:
        gen = start_http(HttpReceiver(list(script or [])))
        stops.append(gen)
        return next(gen)

    yield start
    for gen in stops:
        next(gen, None)


def rules_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            defaults: {{group_wait: 0s, group_interval: 1s, repeat_interval: 1h, max_attempts: 2}}
            channels:
              hook: {{type: webhook, url: "{url}/hook?token=url-token-123", secret: "{HMAC_SECRET}"}}
            alerts:
              - name: high_response_time
                condition: response_time.p95 > 200
                notification: [hook]
            """
        )
    )
    return path


def alert(state: State, at_ms: int, fired_at_ms: int) -> Alert:
    group = {"service": "gateway"}
    return Alert(
        rule="high_response_time",
        labels={"alertname": "high_response_time", "severity": "warning", **group},
        group=group,
        annotations={"summary": "p95 of gateway is 250 ms"},
        severity="warning",
        state=state,
        value=250.0 if state is State.FIRING else 90.0,
        active_at_ms=fired_at_ms,
        fired_at_ms=fired_at_ms,
        resolved_at_ms=at_ms if state is State.RESOLVED else None,
        channels=("hook",),
    )


def record(tick: int, seq: int, state: State, at_ms: int, fired_at_ms: int, partition: int = 2) -> bytes:
    previous = State.PENDING if state is State.FIRING else State.FIRING
    transition = AlertTransition(alert(state, at_ms, fired_at_ms), previous, at_ms)
    return encode_transition(transition_record(transition, tick, seq, partition))


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def statuses(hook: HttpReceiver) -> list[str]:
    return [r.json()["status"] for r in hook.delivered()]


def test_one_delivery_per_firing_no_repeat_across_a_restart_and_the_resolution_arrives(
    settings: Settings, tmp_path: Path, receiver: Callable[..., HttpReceiver]
) -> None:
    hook = receiver()
    configured = settings.model_copy(update={"rules": rules_file(tmp_path, hook.url)})
    alerts_topic = configured.topics.alerts
    now = time.time_ns() // 1_000_000
    fired = now - 5_000
    firing = [(alerts_topic, 2, record(10, 0, State.FIRING, fired, fired))]
    with running_app(configured) as client:
        asyncio.run(produce(configured.kafka_bootstrap, [*firing, *firing]))  # the second: a stream replay
        wait_for(lambda: len(hook.requests) >= 1, "the firing notification")
        time.sleep(SETTLE_S)
        assert statuses(hook) == ["firing"]
        sent = hook.requests[0]
        body = sent.json()
        assert sent.path == "/hook?token=url-token-123"
        assert verify_signature(HMAC_SECRET, sent.headers["x-perfpulse-signature"], sent.body, int(time.time()))
        fingerprint = body["alerts"][0]["fingerprint"]
        assert body["alerts"][0]["labels"]["service"] == "gateway"
        [active] = client.get("/api/v1/alerts").json()["alerts"]
        assert (active["state"], active["since"], active["value"], active["fingerprint"]) == (
            "firing",
            fired,
            250.0,
            fingerprint,
        )
        assert active["labels"] == {"alertname": "high_response_time", "severity": "warning", "service": "gateway"}
        wait_for(lambda: len(client.get("/api/v1/alerts/history").json()["history"]) >= 1, "the history row")
        [attempt] = client.get(f"/api/v1/alerts/{fingerprint}/attempts").json()["attempts"]
        assert (attempt["outcome"], attempt["status_code"], attempt["channel"]) == ("delivered", 200, "hook")
        assert "url-token-123" not in str(attempt) and HMAC_SECRET not in str(attempt)

    with running_app(configured) as client:  # the API process restarted on the same store
        [active] = client.get("/api/v1/alerts").json()["alerts"]
        assert (active["state"], active["fingerprint"]) == ("firing", fingerprint)
        asyncio.run(produce(configured.kafka_bootstrap, firing))  # replayed again after the restart
        time.sleep(SETTLE_S)
        assert statuses(hook) == ["firing"], "no second firing notification"
        resolved_at = now - 1_000
        resolution = record(12, 0, State.RESOLVED, resolved_at, fired)
        asyncio.run(produce(configured.kafka_bootstrap, [(alerts_topic, 2, resolution)]))
        wait_for(lambda: len(hook.requests) >= 2, "the resolution")
        time.sleep(SETTLE_S)
        assert statuses(hook) == ["firing", "resolved"]
        assert hook.requests[1].json()["alerts"][0]["fingerprint"] == fingerprint
        wait_for(lambda: len(client.get("/api/v1/alerts/history").json()["history"]) >= 2, "the resolution's row")
        history = client.get("/api/v1/alerts/history", params={"fingerprint": fingerprint}).json()["history"]
        assert [(h["state"], h["previous"], h["at"]) for h in history] == [
            ("resolved", "firing", resolved_at),
            ("firing", "pending", fired),
        ]
        attempts = client.get(f"/api/v1/alerts/{fingerprint}/attempts").json()["attempts"]
        assert [a["outcome"] for a in attempts] == ["delivered", "delivered"]


async def run_service(settings: Settings, until: Callable[[], bool], *, graceful: bool) -> None:
    """The notifier alone (as the app runs it) until ``until()``; then stopped, or killed: its tasks
    cancelled with no shutdown save."""
    store = open_store(settings.store_url, pool_size=2)
    apply_migrations(store, migration_params(settings))
    service = notifier_stage(settings, store)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(service.run(stop))]
    try:
        deadline = time.monotonic() + 30
        while not until():
            assert time.monotonic() < deadline, "timed out"
            assert not any(t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
            await asyncio.sleep(0.1)
        await asyncio.sleep(SETTLE_S)
    finally:
        if graceful:
            stop.set()
            await asyncio.gather(*tasks)
        else:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        store.close()


async def test_a_killed_notifier_neither_repeats_the_firing_nor_loses_the_resolution(
    settings: Settings, tmp_path: Path, receiver: Callable[..., HttpReceiver]
) -> None:
    hook = receiver()
    configured = settings.model_copy(update={"rules": rules_file(tmp_path, hook.url)})
    topic = configured.topics.alerts
    now = time.time_ns() // 1_000_000
    await produce(configured.kafka_bootstrap, [(topic, 2, record(10, 0, State.FIRING, now, now))])
    await run_service(configured, lambda: len(hook.requests) >= 1, graceful=False)
    assert statuses(hook) == ["firing"]
    await produce(
        configured.kafka_bootstrap,
        [(topic, 2, record(10, 0, State.FIRING, now, now)), (topic, 2, record(11, 0, State.RESOLVED, now + 1, now))],
    )
    await run_service(configured, lambda: len(hook.requests) >= 2, graceful=True)
    assert statuses(hook) == ["firing", "resolved"]


def test_a_permanent_failure_is_dead_lettered_and_redelivered_on_request(
    settings: Settings, tmp_path: Path, receiver: Callable[..., HttpReceiver]
) -> None:
    hook = receiver([400])  # refuses the first request, accepts the next
    configured = settings.model_copy(update={"rules": rules_file(tmp_path, hook.url)})
    now = time.time_ns() // 1_000_000
    with running_app(configured) as client:
        asyncio.run(
            produce(
                configured.kafka_bootstrap, [(configured.topics.alerts, 0, record(3, 0, State.FIRING, now, now, 0))]
            )
        )
        wait_for(lambda: bool(client.get("/api/v1/alerts/deadletters").json()["dead_letters"]), "the dead letter")
        [letter] = client.get("/api/v1/alerts/deadletters").json()["dead_letters"]
        assert letter["channel"] == "hook" and letter["reason"].startswith("HTTP 400")
        assert "url-token-123" not in str(letter) and letter["target"] == hook.url + "/****"
        fingerprint = letter["notification"]["alerts"][0]["fingerprint"]
        [attempt] = client.get(f"/api/v1/alerts/{fingerprint}/attempts").json()["attempts"]
        assert (attempt["outcome"], attempt["dead_lettered"], attempt["status_code"]) == ("failed", True, 400)
        answer = client.post(f"/api/v1/alerts/deadletters/{letter['id']}/redeliver")
        assert answer.status_code == 200 and answer.json()["delivered"] is True, answer.json()
        assert client.get("/api/v1/alerts/deadletters").json()["dead_letters"] == []
        assert client.post("/api/v1/alerts/deadletters/nope/redeliver").status_code == 404
        assert statuses(hook) == ["firing"]
        outcomes = [a["outcome"] for a in client.get(f"/api/v1/alerts/{fingerprint}/attempts").json()["attempts"]]
        assert outcomes == ["delivered", "failed"]


async def test_a_recreated_alerts_topic_is_read_from_its_start_and_its_resolution_delivered(
    settings: Settings, tmp_path: Path, receiver: Callable[..., HttpReceiver]
) -> None:
    hook = receiver()
    configured = settings.model_copy(update={"rules": rules_file(tmp_path, hook.url)})
    now = time.time_ns() // 1_000_000
    old = configured.topics.alerts
    await produce(
        configured.kafka_bootstrap,
        [(old, 2, record(10, 0, State.FIRING, now, now)), (old, 2, record(10, 1, State.FIRING, now, now))],
    )
    await run_service(configured, lambda: len(hook.requests) >= 1, graceful=True)  # saves position 2 of partition 2

    recreated = configured.model_copy(update={"topic_prefix": f"{configured.topic_prefix}again."})
    await ensure_topics(recreated.kafka_bootstrap, recreated.topics, partitions=4)
    # The new log starts over: offset 0 and a lower tick than the old log's frontier.
    await produce(recreated.kafka_bootstrap, [(recreated.topics.alerts, 2, record(5, 0, State.RESOLVED, now + 1, now))])
    await run_service(recreated, lambda: len(hook.requests) >= 2, graceful=True)
    assert statuses(hook) == ["firing", "resolved"]


async def test_a_notifier_of_its_own_applies_the_commands_queued_in_storage_once(
    settings: Settings, tmp_path: Path, receiver: Callable[..., HttpReceiver]
) -> None:
    """As with a ClickHouse server, where the API and the notifier are two processes: the API only
    writes commands to storage; the notifier applies each once and saves the outcome."""
    hook = receiver()
    configured = settings.model_copy(update={"rules": rules_file(tmp_path, hook.url)})
    now = time.time_ns() // 1_000_000
    silence = new_silence("s-1", 'service="gateway"', now, now + 3_600_000, "deploy", "ops", now)
    store = open_store(configured.store_url, pool_size=1)
    apply_migrations(store, migration_params(configured))
    command = queue_command(store, CommandKind.ADD_SILENCE, silence.to_dict())
    pending = NotifierView(None, commands_since(store, 0))
    assert [s.id for s in pending.silences(now)] == ["s-1"] and pending.result(command.seq) is None
    store.close()

    def applied() -> bool:
        with contextlib.closing(open_store(configured.store_url, pool_size=1)) as reader:
            loaded = NotifierTables(reader).load_state(notifier_name(configured))
        return loaded is not None and str(command.seq) in state_document(loaded[1]).get("results", {})

    await run_service(configured, applied, graceful=True)
    await run_service(configured, lambda: True, graceful=True)  # a restart applies nothing twice
    with contextlib.closing(open_store(configured.store_url, pool_size=1)) as reader:
        _version, text = NotifierTables(reader).load_state(notifier_name(configured)) or (0, "")
        view = NotifierView(state_document(text), commands_since(reader, 0))
    assert view.result(command.seq) == {"silence": "s-1"}
    assert [s.id for s in view.silences(now)] == ["s-1"] and view.applied_seq == command.seq
