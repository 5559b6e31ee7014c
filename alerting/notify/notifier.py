"""The notifier: alert transitions in, notifications out, through grouping, silences, inhibition and
delivery (Alertmanager's pipeline, in-process).

Driving it::

    channels = load_channels(rules_path, env=env).channels or {}  # ChannelsWatcher: reload on change
    notifier = Notifier(channels, sender=ChannelSender(HttpClient(), recorder=log))
    notifier.receive(transitions)          # from the evaluator, or decoded from the alerts topic
    await notifier.flush()                 # sends what is due now; or run(stop) loops on deadlines

Time comes from the injected clock (epoch ms) or as ``flush(now_ms)``, so tests step through
group_wait, group_interval and repeat_interval without sleeping. Delivery outcomes: a notification
ends delivered or dead-lettered (visible in :meth:`Notifier.dead_letters`, redeliverable); either
way the notification log records it as told, so a broken receiver is not hammered every
group_interval — the next change or repeat_interval tries again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from alerting.notify.channels import Channel
from alerting.notify.delivery import wall_clock_ms
from alerting.notify.grouping import AggregationGroup, Grouper
from alerting.notify.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule, inhibited_by
from alerting.notify.model import Clock, DeadLetter, Delivery, Notification
from alerting.notify.sender import Sender
from alerting.notify.silences import Silences
from alerting.rules.alert import Alert, AlertTransition
from alerting.rules.state import State

__all__ = ["AlertStatus", "Notifier", "SendResult"]

log = logging.getLogger("alerting.notify")
RESOLVED_RETENTION_MS = 15 * 60_000  # resolved alerts stay listed this long


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """An alert as the API lists it: whether something mutes it, and what."""

    alert: Alert
    silenced_by: tuple[str, ...]  # ids of active silences matching it
    inhibited_by: str | None  # fingerprint of the firing alert inhibiting it

    def to_dict(self) -> dict[str, Any]:
        return {**self.alert.to_dict(), "silenced_by": list(self.silenced_by), "inhibited_by": self.inhibited_by}


@dataclass(frozen=True, slots=True)
class SendResult:
    """One notification's fate at a flush."""

    notification: Notification
    deliveries: tuple[Delivery, ...]
    dead_letter: DeadLetter | None

    @property
    def delivered(self) -> bool:
        return self.dead_letter is None


class Notifier:
    """Owns the alert table, aggregation groups, silences and dead letters of one process."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        *,
        sender: Sender,
        clock: Clock = wall_clock_ms,
        silences: Silences | None = None,
        inhibit_rules: Iterable[InhibitRule] = DEFAULT_INHIBIT_RULES,
        dead_letter_limit: int = 1000,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self._channels = dict(channels)
        self._sender = sender
        self._clock = clock
        self.silences = silences if silences is not None else Silences()
        self._inhibit_rules = tuple(inhibit_rules)
        self._dead: deque[DeadLetter] = deque(maxlen=dead_letter_limit)
        self._on_dead_letter = on_dead_letter
        self._new_id = new_id
        self._alerts: dict[str, Alert] = {}  # fingerprint -> latest pending, firing or resolved alert
        self._grouper = Grouper()
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()  # keys of groups being sent: never two sends of one group at once
        self._tasks: set[asyncio.Task[list[SendResult]]] = set()

    # -- input ----------------------------------------------------------------------------------

    def set_channels(self, channels: Mapping[str, Channel]) -> None:
        """Apply reloaded channel definitions; groups of removed channels are dropped."""
        for name in set(self._channels) - set(channels):
            self._grouper.drop_channel(name)
        self._channels = dict(channels)

    def receive(self, transitions: Iterable[AlertTransition], now_ms: int | None = None) -> None:
        """Take state changes (in order); alerts go to the groups of their rule's channels."""
        now = self._clock() if now_ms is None else now_ms
        for transition in transitions:
            alert = transition.alert
            if alert.state is State.INACTIVE:
                self._alerts.pop(alert.fingerprint, None)
                continue
            self._alerts[alert.fingerprint] = alert
            for name in alert.channels:
                channel = self._channels.get(name)
                if channel is None:
                    log.warning("alert %s names channel %r, which is not defined; skipped", alert.rule, name)
                elif channel.enabled:
                    self._grouper.insert(alert, channel, now)
        self._wake.set()

    # -- views ----------------------------------------------------------------------------------

    def _inhibitor(self, alert: Alert) -> str | None:
        return inhibited_by(alert, (a for a in self._alerts.values() if a.state is State.FIRING), self._inhibit_rules)

    def muted(self, alert: Alert, now_ms: int) -> bool:
        """Whether a silence or an inhibiting alert keeps ``alert`` out of notifications now."""
        return bool(self.silences.silenced_by(alert.labels, now_ms)) or self._inhibitor(alert) is not None

    def alerts(self, now_ms: int | None = None) -> list[AlertStatus]:
        """Pending, firing and recently resolved alerts, firing first."""
        now = self._clock() if now_ms is None else now_ms
        order = {State.FIRING: 0, State.PENDING: 1, State.RESOLVED: 2}
        listed = sorted(self._alerts.values(), key=lambda a: (order.get(a.state, 3), a.rule, a.key))
        return [AlertStatus(a, tuple(self.silences.silenced_by(a.labels, now)), self._inhibitor(a)) for a in listed]

    def dead_letters(self) -> list[DeadLetter]:
        return list(self._dead)

    def next_deadline(self) -> int | None:
        """When the next group is due (epoch ms), or None."""
        return self._grouper.next_deadline()

    # -- sending --------------------------------------------------------------------------------

    async def flush(self, now_ms: int | None = None) -> list[SendResult]:
        """Send every notification due at ``now_ms`` (default: the clock), concurrently."""
        now = self._clock() if now_ms is None else now_ms
        self._forget_resolved(now)
        work = []
        for group in self._grouper.due(now):
            if group.key in self._in_flight:
                continue  # its previous send is still retrying; it is looked at again when done and due
            channel = self._channels.get(group.channel)
            if channel is None or not channel.enabled:
                self._grouper.drop_channel(group.channel)
                continue
            notification, snapshot = self._grouper.prepare(
                group, channel, now, lambda a: self.muted(a, now), self._new_id
            )
            self._in_flight.add(group.key)
            work.append(self._send(group, snapshot, channel, notification, now))
        results = await asyncio.gather(*work)
        return [r for r in results if r is not None]

    async def _send(
        self,
        group: AggregationGroup,
        snapshot: tuple[Alert, ...],
        channel: Channel,
        notification: Notification | None,
        now: int,
    ) -> SendResult | None:
        try:
            if notification is None or not notification.alerts:
                self._grouper.done(group, snapshot, notification, now)
                return None
            deliveries = tuple(await self._sender.send(channel, notification))
            self._grouper.done(group, snapshot, notification, now)
            return SendResult(notification, deliveries, self._dead_letter(notification, deliveries))
        finally:
            self._in_flight.discard(group.key)

    def _dead_letter(self, notification: Notification, deliveries: tuple[Delivery, ...]) -> DeadLetter | None:
        failed = [d for d in deliveries if not d.delivered]
        if not failed:
            return None
        first = failed[0]
        letter = DeadLetter(
            self._new_id(),
            notification,
            first.target,
            max(d.attempts for d in failed),
            first.error or "not delivered",
            self._clock(),
        )
        self._dead.append(letter)
        log.error(
            "notification %s to %s dead-lettered after %d attempt(s): %s",
            notification.id,
            notification.channel,
            letter.attempts,
            letter.reason,
        )
        if self._on_dead_letter is not None:
            self._on_dead_letter(letter)
        return letter

    async def redeliver(self, dead_letter_id: str) -> SendResult:
        """Send a dead-lettered notification again (to its channel's current settings).

        Raises ``KeyError`` for an unknown id or a channel that no longer exists. Delivered, the
        dead letter is removed; not delivered, it is replaced by a new one.
        """
        letter = next((d for d in self._dead if d.id == dead_letter_id), None)
        if letter is None:
            raise KeyError(f"no dead letter {dead_letter_id!r}")
        channel = self._channels.get(letter.notification.channel)
        if channel is None:
            raise KeyError(f"channel {letter.notification.channel!r} is no longer defined")
        self._dead.remove(letter)
        deliveries = tuple(await self._sender.send(channel, letter.notification))
        return SendResult(letter.notification, deliveries, self._dead_letter(letter.notification, deliveries))

    def _forget_resolved(self, now: int) -> None:
        for fingerprint, alert in list(self._alerts.items()):
            if alert.state is State.RESOLVED and (alert.resolved_at_ms or 0) + RESOLVED_RETENTION_MS <= now:
                del self._alerts[fingerprint]

    async def run(self, stop: asyncio.Event, *, idle_s: float = 1.0) -> None:
        """Flush on every deadline and after every :meth:`receive` until ``stop`` is set.

        Each flush runs as its own task, so a group whose delivery is retrying with backoff does not
        hold back the others; in-flight sends are awaited before returning.
        """
        while not stop.is_set():
            task = asyncio.create_task(self._flush_logged())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0)  # let the flush take its due groups before the next deadline is read
            deadline = self.next_deadline()
            wait_s = idle_s if deadline is None else max(0.0, min(idle_s, (deadline - self._clock()) / 1000))
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _flush_logged(self) -> list[SendResult]:
        try:
            return await self.flush()
        except Exception:  # a bug in one flush must not end notifications for good
            log.exception("cannot flush notifications")
            return []

    # -- persistence ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state (alerts, groups, notification log, silences, dead letters) to survive a restart."""
        return {
            "alerts": [a.to_dict() for a in self._alerts.values()],
            "groups": self._grouper.snapshot(),
            "silences": self.silences.snapshot(),
            "dead_letters": [d.to_dict() for d in self._dead],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Load a :meth:`snapshot`; raises ``ValueError`` when it is malformed."""
        alerts = [Alert.from_dict(a) for a in data.get("alerts", [])]
        self._grouper = Grouper.restore(data.get("groups", {}))
        self.silences = Silences.restore(data.get("silences", []))
        dead = [DeadLetter.from_dict(d) for d in data.get("dead_letters", [])]
        self._dead = deque(dead, maxlen=self._dead.maxlen)
        self._alerts = {a.fingerprint: a for a in alerts}
