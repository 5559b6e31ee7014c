"""Two notifier stages of one deployment on real Kafka and one real chDB store, each on its own event
loop in its own thread, sending to one real webhook receiver: only the lease holder sends.

A pause is the holder's event loop blocked (as a GC pause or SIGSTOP freezes a process: no
heartbeat, no timer, no send) while the other loop runs. The holder is paused with a notification
due and not sent; the standby takes over and sends it; the old holder, resumed, sends nothing
(fenced). Then the new holder is paused for good (dead, for the group) and the first takes over
again and delivers the resolution. Every notification reaches the receiver once.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerting.notify.stage import NotifierStage
from alerting.rules import State
from perfpulse.settings import Settings
from perfpulse.stages import migration_params, notifier_stage
from perfpulse.topics import ensure_topics
from storage import apply_migrations, open_store
from storage.client import Store
from tests.alerting.notify.test_stage import record, statuses, wait_for
from tests.alerting.receivers import HttpReceiver, start_http
from tests.storage.test_sink import produce

pytestmark = pytest.mark.integration

GROUP_WAIT_S = 3  # a received alert waits this long before it is sent: time to pause its holder


class Running:
    """A stage running on an event loop of its own thread, which :meth:`pause` blocks."""

    def __init__(self, stage: NotifierStage) -> None:
        self.stage = stage
        self.loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(stage.run(self._stop),))
        self._thread.start()

    def detail(self) -> str:
        return self.stage.health().detail

    def holds(self) -> bool:
        return "term" in self.detail()

    def pause(self, gate: threading.Event) -> None:
        """Block the loop until ``gate`` is set (timers, heartbeats and sends all stop)."""
        self.loop.call_soon_threadsafe(gate.wait)

    def finish(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the stage did not stop"
        self.loop.close()


def lease_rules(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            defaults: {{group_wait: {GROUP_WAIT_S}s, group_interval: 1s, repeat_interval: 1h, max_attempts: 2}}
            channels:
              hook: {{type: webhook, url: "{url}/hook"}}
            alerts:
              - name: high_response_time
                condition: response_time.p95 > 200
                notification: [hook]
            """
        )
    )
    return path


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    gen = start_http(HttpReceiver())
    yield next(gen)
    next(gen, None)


@pytest.fixture
def shared_store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings.store_url, pool_size=4)
    apply_migrations(store, migration_params(settings))
    yield store
    store.close()


def the_holder(stages: list[Running], timeout_s: float = 60.0) -> Running:
    """The one stage holding the lease, once exactly one does (and the others stand by)."""
    wait_for(lambda: sum(s.holds() for s in stages) == 1, "one holder", timeout_s)
    [holder] = [s for s in stages if s.holds()]
    return holder


def test_a_paused_holder_is_fenced_and_a_standby_takes_over_without_loss_or_repeat(
    settings: Settings, tmp_path: Path, hook: HttpReceiver, shared_store: Store
) -> None:
    configured = settings.model_copy(update={"rules": lease_rules(tmp_path, hook.url)})
    topic = configured.topics.alerts
    asyncio.run(ensure_topics(configured.kafka_bootstrap, configured.topics, partitions=4))
    stages = [Running(notifier_stage(configured, shared_store)) for _ in range(2)]
    gates = [threading.Event(), threading.Event()]
    try:
        first = the_holder(stages)
        [standby] = [s for s in stages if s is not first]
        assert standby.detail().startswith("standby"), standby.detail()

        now = time.time_ns() // 1_000_000
        asyncio.run(produce(configured.kafka_bootstrap, [(topic, 2, record(10, 0, State.FIRING, now, now))]))
        wait_for(lambda: first.detail().startswith("1 alert(s)"), "the holder to take the firing", 20)
        first.pause(gates[0])  # within group_wait: the notification is due, not sent
        assert hook.requests == []

        second = the_holder([standby], 60)  # after the session timeout and the lease
        wait_for(lambda: len(hook.requests) >= 1, "the firing from the new holder")
        gates[0].set()  # the old holder resumes with the firing due: fenced, it sends nothing
        wait_for(lambda: first.detail().startswith("standby"), "the old holder to stand by", 20)
        time.sleep(GROUP_WAIT_S + 2)
        assert statuses(hook) == ["firing"], statuses(hook)
        assert second.holds() and not first.holds()  # the resumed one did not take the partitions back

        second.pause(gates[1])  # for good, as a killed process
        asyncio.run(produce(configured.kafka_bootstrap, [(topic, 2, record(11, 0, State.RESOLVED, now + 1, now))]))
        wait_for(lambda: len(hook.requests) >= 2, "the resolution from the first notifier again", 60)
        time.sleep(GROUP_WAIT_S + 2)
        assert statuses(hook) == ["firing", "resolved"], statuses(hook)
        assert len(hook.requests) == 2
        assert first.holds()
    finally:
        for gate in gates:
            gate.set()
        for stage in stages:
            stage.finish()
    assert len(hook.requests) == 2, statuses(hook)  # nothing more when the last one resumed and stopped


def test_only_one_of_two_notifiers_started_together_holds_and_a_stopped_holder_hands_over(
    settings: Settings, tmp_path: Path, hook: HttpReceiver, shared_store: Store
) -> None:
    configured = settings.model_copy(update={"rules": lease_rules(tmp_path, hook.url)})
    asyncio.run(ensure_topics(configured.kafka_bootstrap, configured.topics, partitions=4))
    stages = [Running(notifier_stage(configured, shared_store)) for _ in range(2)]
    try:
        holder = the_holder(stages)
        time.sleep(3)  # a rebalance settled: still one holder, the same
        assert [s.holds() for s in stages].count(True) == 1 and holder.holds()
        holder.finish()
        stages.remove(holder)
        [other] = stages
        wait_for(other.holds, "the standby to take over", 30)
        now = time.time_ns() // 1_000_000
        asyncio.run(
            produce(
                configured.kafka_bootstrap, [(configured.topics.alerts, 1, record(5, 0, State.FIRING, now, now, 1))]
            )
        )
        wait_for(lambda: len(hook.requests) >= 1, "the firing")
        assert statuses(hook) == ["firing"]
    finally:
        for stage in stages:
            stage.finish()
