"""The notifier stage: the ``alerts`` topic in, notifications out, state saved through a store.

The composition root runs it beside the API (embedded store: one process owns chDB) or as a process
of its own (``perfpulse notifier``, with a ClickHouse server); the API reads what it saved through
:class:`~alerting.notify.view.NotifierView` and asks for changes (silences, redeliveries) through
commands in storage, which this stage applies in order. It reads every partition
of the ``alerts`` topic (one sending notifier per deployment: grouping and inhibition need every alert;
any other notifier started waits as standby, alerting/notify/lease.py),
skips what the stream stage re-emits after a restart (the identity ``(tick offset, seq)`` of a
record at or below the highest one taken from its partition, schemas/alerts.py), hands transitions
to the notifier, records delivery attempts in ``notification_attempts`` and saves its state to
``notifier_state``: the notifier's snapshot together with the identity frontier and the consumer
position per partition, as one row, so the three always agree.

When the state is saved: after every batch of records that handed transitions to the notifier
(before the next batch is read), right after every send (delivered or not), after silence changes
and redeliveries (before the API answers), and at shutdown. On start the newest saved state is
restored and each partition read from the saved position (from its beginning when none was saved).

Lease (alerting/notify/lease.py): the stage joins the Kafka consumer group of its name; the member
given the partitions holds the lease. A holding begins ``lease_s`` after the assignment and a
commit the group accepted; it restores the newest saved state, saves it at once under a new term
(so no save of an older holder can win afterwards), and reads and sends while the lease is valid
(renewed by a commit every ``renew_s``). When the lease lapses or the partitions go to another
member, the holding ends: sending and saving stop, and the state in memory is dropped (the next
holding, here or in another notifier, restores it from storage). A standby takes over when the
holder stops (``lease_s`` after it leaves the group) or dies (after the group's session timeout, 10 s, then
``lease_s``); what the holder sent was saved right after each send, so nothing is sent twice
except in window 2 below.

Delivery guarantee, as implemented: every firing and every resolution the stream stage publishes
is notified at least once, and no notification is sent twice except in one crash window:

1. A crash after a batch was handed to the notifier but before its save: the restart restores the
   previous state and position and reads the batch again. Nothing was sent from the lost state
   unless a group became due and was sent meanwhile, which is window 2.
2. A crash between a receiver accepting a notification (2xx) and the save that follows that send
   (one ClickHouse insert, milliseconds later): the restored notification log does not know the
   receiver was told, so that one notification is sent again after the restart. PagerDuty
   (``dedup_key``) and Alertmanager (fingerprint) absorb such a repeat; webhook, Slack and email
   receivers see it twice. A send still retrying at the crash is likewise started over.
3. Replays of the stream stage (its own restarts) never reach the notifier: the frontier, saved
   with the state, skips them across notifier restarts too. A graceful stop saves last, so
   stopping and starting never repeats nor loses a notification.
4. A holder paused between its last lease check and the write of a request sends that request
   when it resumes (lease.py); every other send of a holder that lost the lease is refused.

Attempt rows are written with the save that follows them: a crash loses the attempt rows of window
2 (the deliveries themselves are repeated, not lost). Dead letters are part of the saved state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from alerting.notify import (
    Attempt,
    AttemptLog,
    AttemptOutcome,
    Channel,
    ChannelSender,
    Delivery,
    Notification,
    Notifier,
    Sender,
)
from alerting.notify.channelsfile import ChannelsWatcher
from alerting.notify.delivery import wall_clock_ms
from alerting.notify.httpclient import HttpClient
from alerting.notify.lease import TERM_SHIFT, HolderAssignor, Lease, LeaseListener, LeaseLost
from alerting.notify.silences import Silence
from alerting.notify.store import NotifierStore
from alerting.rules import AlertTransition, transition_from_record
from schemas import WireError
from schemas.alerts import decode_transition
from schemas.kafka_security import KafkaSecurity
from schemas.notifier import AttemptRow, CommandKind, NotifierCommand
from schemas.replay import ReplayFilter, past_end
from schemas.stage import Health

__all__ = ["AttemptRecorder", "NotifierConfig", "NotifierStage"]

log = logging.getLogger("perfpulse.alerting.notify.stage")

TRANSITIONS = Counter("perfpulse_notifier_transitions_total", "Alert transitions handed to the notifier")
REPLAYS_SKIPPED = Counter(
    "perfpulse_notifier_replays_skipped_total", "Alerts-topic records skipped as re-emissions of ones taken"
)
UNREADABLE = Counter("perfpulse_notifier_unreadable_records_total", "Alerts-topic records the notifier cannot read")


@dataclass(frozen=True)
class NotifierConfig:
    bootstrap: str  # Kafka bootstrap servers
    topic: str  # the alerts topic
    group: str  # Kafka consumer group (the lease; commits, for lag) and the name the state is saved under
    rules_path: Path  # the rules file: channels come from it, the rules API edits it
    window_ms: int | None = None  # the stream window: rule windows must be multiples of it
    env: Mapping[str, str] | None = None  # resolves ${VAR} in channel settings (None: the process environment)
    external_url: str = ""  # link back to perfpulse in notifications
    rules_poll_s: float = 5.0  # how often the rules file is checked for edits made outside the API
    lazy_save_s: float = 10.0  # a position that moved without transitions is saved at most this late
    command_poll_s: float = 0.5  # how often the API's commands (silences, redeliveries) are looked for
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # how its Kafka clients connect
    lease_s: float = 6.0  # a holder sends until this long after its last accepted commit; a new one waits as long
    renew_s: float = 1.0  # how often the holder commits, renewing its lease (well under lease_s)


class AttemptRecorder:
    """The :data:`~alerting.notify.Recorder` of the notifier: logs every attempt (without secrets) and
    turns it into one row per alert of its notification, kept until the next save takes them.

    It learns which alerts a notification carries from :meth:`sender`, the wrapper every send goes
    through, which also reports each finished send (so the state is saved right after it)."""

    def __init__(self, on_sent: Callable[[], None], log_limit: int = 1000) -> None:
        self.log = AttemptLog(log_limit)
        self._sending: dict[str, Notification] = {}  # notification id -> the notification being sent
        self._rows: list[AttemptRow] = []
        self._on_sent = on_sent

    def __call__(self, attempt: Attempt) -> None:
        self.log(attempt)
        notification = self._sending.get(attempt.notification_id)
        for alert in notification.alerts if notification is not None else ():
            self._rows.append(
                AttemptRow(
                    alert.fingerprint,
                    alert.rule,
                    attempt.channel,
                    attempt.notification_id,
                    notification.group_key if notification is not None else "",
                    attempt.target,
                    attempt.number,
                    attempt.at_ms,
                    attempt.duration_ms,
                    attempt.outcome.value,
                    attempt.status_code,
                    attempt.error or "",
                    attempt.next_delay_ms,
                    attempt.outcome is AttemptOutcome.FAILED,
                )
            )

    def sender(self, inner: Sender) -> Sender:
        """``inner``, telling this recorder which notification its attempts belong to."""
        return _TrackingSender(inner, self)

    def begin(self, notification: Notification) -> None:
        self._sending[notification.id] = notification

    def end(self, notification: Notification) -> None:
        self._sending.pop(notification.id, None)
        self._on_sent()

    def take(self) -> list[AttemptRow]:
        rows, self._rows = self._rows, []
        return rows

    def put_back(self, rows: list[AttemptRow]) -> None:
        self._rows[:0] = rows


class _TrackingSender:
    def __init__(self, inner: Sender, recorder: AttemptRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    async def send(self, channel: Channel, notification: Notification) -> list[Delivery]:
        self._recorder.begin(notification)
        try:
            return await self._inner.send(channel, notification)
        finally:
            self._recorder.end(notification)


class _FencedSender:
    """``inner``, refusing to start a send without the lease (:class:`LeaseLost`, nothing recorded)."""

    def __init__(self, inner: Sender, lease: Lease) -> None:
        self._inner = inner
        self._lease = lease

    async def send(self, channel: Channel, notification: Notification) -> list[Delivery]:
        self._lease.check()
        return await self._inner.send(channel, notification)


async def _together(ended: asyncio.Event, *work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` concurrently until all return; the first failure sets ``ended`` (the others end
    on it), the rest are awaited, then it is raised."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        ended.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


COMMAND_HORIZON_MS = 300_000  # commands are looked for this far behind the newest applied (clock skew, races)
RESULTS_KEPT = 100  # outcomes of applied commands kept in the state for the API to report


class NotifierStage:
    """Rules watcher, notifier, alerts-topic consumer, command applier, state persistence, lease.

    :meth:`run` waits for the lease; holding it, restores the saved state, then consumes, notifies
    and applies commands until its stop event or the lease's end, and saves a last time (stopped
    while holding). The notifier keeps sending while Kafka is away for less than ``lease_s``.
    """

    name = "notifier"

    def __init__(
        self, config: NotifierConfig, store: NotifierStore, *, clock: Callable[[], int] = wall_clock_ms
    ) -> None:
        self.config = config
        self.store = store
        self._clock = clock
        self._dirty = asyncio.Event()  # something changed that a save should persist
        self.attempts = AttemptRecorder(self._dirty.set)
        self._lease = Lease(config.lease_s)
        # The lease is checked right before each request is written, each retry and each send.
        self._client = HttpClient(before_request=self._lease.check)
        sender = ChannelSender(
            self._client,
            recorder=self.attempts,
            clock=clock,
            sleep=self._fenced_sleep,
            external_url=config.external_url,
        )
        self.notifier = Notifier(
            {},
            sender=self.attempts.sender(_FencedSender(sender, self._lease)),
            clock=clock,
            on_dead_letter=lambda _: self._dirty.set(),
        )
        env = os.environ if config.env is None else config.env
        self.channels = ChannelsWatcher(config.rules_path, env=env, on_change=self._channels_changed)
        self.channels.reload()  # channels reach the notifier through _channels_changed
        if self.channels.current is None:
            log.error("cannot load notification channels: %s", "; ".join(str(e) for e in self.channels.errors))
        self._replays = ReplayFilter()  # alerts partition -> highest (tick offset, seq) taken
        self._positions: dict[int, int] = {}  # alerts partition -> next offset to read
        self._applied: dict[int, int] = {}  # seq -> at_ms of the commands applied within the horizon
        self._results: dict[int, Any] = {}  # seq -> outcome of an applied command (newest RESULTS_KEPT)
        self._version = 0  # of the newest saved state: term << TERM_SHIFT | saves within the term
        self._term = 0  # of the current holding (0: none yet)
        self._holding = False  # between restore and the end of a holding
        self._consumer: AIOKafkaConsumer | None = None  # the group member, while it runs
        self._save_lock = asyncio.Lock()
        self._last_save = time.monotonic()
        self._consuming = False  # a member of the lease group (health)

    def health(self) -> Health:
        if self.channels.current is None:
            reasons = "; ".join(map(str, self.channels.errors))
            return Health(self.name, False, "the channels of the rules file do not load: " + reasons)
        if not self._consuming:
            return Health(self.name, False, f"not reading {self.config.topic} (Kafka unreachable or starting)")
        if not self._holding:
            return Health(self.name, True, "standby: waiting for the lease (another notifier may hold it)")
        return Health(
            self.name,
            True,
            f"{len(self.notifier.alerts())} alert(s), state version {self._version}, term {self._term}",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Be a member of the lease group until ``stop``: standby, or holding (restore, consume, notify,
        apply commands, save at the end); rejoined with backoff when Kafka fails."""
        delay = 1.0
        try:
            while not stop.is_set():
                try:
                    await self._member(stop)
                    delay = 1.0
                except Exception as exc:  # Kafka out of reach: the lease lapses, a holding ends
                    self._consuming = False
                    log.warning("cannot read %s: %r; retrying in %.0f s", self.config.topic, exc, delay)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 30.0)
        finally:
            await self._client.aclose()

    async def _fenced_sleep(self, seconds: float) -> None:
        """The wait before a retry; the retry is not made when the lease ended meanwhile."""
        await asyncio.sleep(seconds)
        self._lease.check()

    def _channels_changed(self, channels: Mapping[str, Channel]) -> None:
        self.notifier.set_channels(channels)
        log.info("notification channels reloaded from %s: %d channel(s)", self.channels.path, len(channels))

    # -- persistence ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Restore the newest saved state (none saved: start empty, read every partition from its start)
        and begin a term one above the state's, so the next save outranks every saved state."""
        loaded = await asyncio.to_thread(self.store.load_state, self.config.group)
        self._term = 1 + (loaded[0] >> TERM_SHIFT if loaded is not None else 0)
        if loaded is None:
            self._version = self._term << TERM_SHIFT
            return
        version, text = loaded
        self._version = self._term << TERM_SHIFT
        try:
            data = orjson.loads(text)  # codec: the saved state (ClickHouse)
            frontier = {int(p): (int(i[0]), int(i[1])) for p, i in data["frontier"].items()}
            positions = {int(p): int(o) for p, o in data["positions"].items()}
            commands = data.get("commands", {})
            applied = {int(seq): int(at) for seq, at in commands.get("applied", {}).items()}
            results = {int(seq): result for seq, result in data.get("results", {}).items()}
            self.notifier.restore(data["notifier"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.error("cannot restore the notifier state (version %d): %s; rebuilding it from the topic",
                      version, exc)  # fmt: skip
            self.notifier.restore({})
            return
        self._replays = ReplayFilter(frontier)
        self._positions, self._applied, self._results = positions, applied, results
        log.info("notifier state restored (version %d, term %d now): %d alert(s), positions %s",
                 version, self._term, len(self.notifier.alerts()), positions)  # fmt: skip

    async def save(self) -> None:
        """Persist the notifier's state with the frontier and positions it reflects, and the attempt
        rows recorded since the last save. Raises :class:`StoreError` (rows are kept for the next), and
        :class:`LeaseLost` without the lease (another notifier's state must not be overwritten)."""
        async with self._save_lock:
            self._lease.check()
            self._dirty.clear()
            state = orjson.dumps(  # codec: the saved state (ClickHouse)
                {
                    "notifier": self.notifier.snapshot(),
                    "frontier": {str(p): list(i) for p, i in self._replays.export().items()},
                    "positions": {str(p): o for p, o in self._positions.items()},
                    "commands": {
                        "applied_seq": max(self._applied, default=0),
                        "applied": {str(seq): at for seq, at in self._applied.items()},
                    },
                    "results": {str(seq): result for seq, result in self._results.items()},
                }
            ).decode()
            rows = self.attempts.take()
            self._version += 1  # spent even when the write fails: a version never names two states
            try:
                await asyncio.to_thread(self._write, rows, self._version, state)
            except Exception:  # the store's error, raised again: rows are kept for the next save
                self.attempts.put_back(rows)
                self._dirty.set()
                raise
            self._last_save = time.monotonic()

    def _write(self, rows: list[AttemptRow], version: int, state: str) -> None:
        # The state first: attempt rows handed back after a failure are then never inserted twice.
        self.store.save_state(self.config.group, version, state)
        self.store.insert_attempts(rows)

    def _forget(self) -> None:
        """Drop the state in memory at the end of a holding: it may lag what a newer holder saves, and
        the next holding restores what was saved."""
        self.notifier.restore({})
        self._replays, self._positions, self._applied, self._results = ReplayFilter(), {}, {}, {}
        self.attempts.take()
        self._dirty.clear()

    # -- the notifier's side --------------------------------------------------------------------

    async def notify(self, stop: asyncio.Event) -> None:
        """Send on every deadline (the notifier's run loop) and save after sends, until ``stop``."""
        await asyncio.gather(self.notifier.run(stop), self._housekeeping(stop))

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        """Applies the API's commands; saves after sends, dead letters and commands; polls the rules
        file; drops long-expired silences."""
        next_poll = time.monotonic() + self.config.rules_poll_s
        while not stop.is_set():
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._dirty.wait())]
            await asyncio.wait(waiters, timeout=self.config.command_poll_s, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            try:
                if not stop.is_set():
                    await self._apply_commands()
                if self._dirty.is_set() and not stop.is_set():
                    await self.save()
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.config.rules_poll_s
                    self.channels.poll()
                    self.notifier.silences.gc(self._clock())
            except LeaseLost:  # the holding is ending (its watch stops the rest)
                return
            except Exception:  # never end while the notifier's run loop goes on beside it
                log.exception("notifier housekeeping failed; retrying")
                await asyncio.sleep(1.0)

    async def _apply_commands(self) -> None:
        """Apply the commands queued since the newest applied one (minus a horizon: two API processes
        may queue out of order), each once, in ``seq`` order; record each outcome for the API."""
        newest = max(self._applied.values(), default=0)
        commands = await asyncio.to_thread(self.store.commands_since, max(0, newest - COMMAND_HORIZON_MS))
        for command in commands:
            if command.seq in self._applied:
                continue
            self._results[command.seq] = await self._apply(command)
            self._applied[command.seq] = command.at_ms
            self._dirty.set()
        horizon = max(self._applied.values(), default=0) - COMMAND_HORIZON_MS
        self._applied = {seq: at for seq, at in self._applied.items() if at >= horizon}
        for seq in sorted(self._results)[:-RESULTS_KEPT]:
            del self._results[seq]

    async def _apply(self, command: NotifierCommand) -> dict[str, Any]:
        """One command's effect; the outcome says what happened (an invalid command is refused, logged)."""
        try:
            if command.kind is CommandKind.ADD_SILENCE:
                silence = self.notifier.silences.put(Silence.from_dict(command.body))
                return {"silence": silence.id}
            if command.kind is CommandKind.EXPIRE_SILENCE:
                silence = self.notifier.silences.expire(str(command.body["id"]), int(command.body["at_ms"]))
                return {"silence": silence.id}
            result = await self.notifier.redeliver(str(command.body["dead_letter_id"]))
        except (KeyError, TypeError, ValueError) as exc:  # SilenceError is a ValueError
            log.warning("command %d (%s) refused: %s", command.seq, command.kind, exc)
            return {"error": str(exc.args[0]) if exc.args else repr(exc)}
        return {
            "delivered": result.delivered,
            "notification_id": result.notification.id,
            "deliveries": [
                {
                    "delivered": d.delivered,
                    "attempts": d.attempts,
                    "target": d.target,
                    "status_code": d.status_code,
                    "error": d.error,
                }
                for d in result.deliveries
            ],
            "dead_letter": result.dead_letter.to_dict() if result.dead_letter else None,
        }

    # -- the topic's side -----------------------------------------------------------------------

    async def _member(self, stop: asyncio.Event) -> None:
        """One membership of the lease group: standby until the lease is taken, then holding until it
        ends, or until ``stop``. Raises on Kafka errors."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap,
            group_id=self.config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(HolderAssignor(self._lease),),
            session_timeout_ms=10_000,  # a holder paused this long is dropped from the group
            heartbeat_interval_ms=1_000,
            metadata_max_age_ms=10_000,  # a topic created later is assigned within 10 s
            **self.config.security.client_options(),
        )
        consumer.subscribe([self.config.topic], listener=LeaseListener(self._lease, self._assigned))
        self._consumer = consumer
        await consumer.start()
        try:
            self._consuming = True
            if await self._await_lease(consumer, stop):
                # After a holding the member leaves and joins again, claiming nothing: a holder whose
                # lease lapsed (paused, cut off) never takes the partitions back from its successor.
                await self._hold(consumer, stop)
        finally:
            self._consuming = False
            self._consumer = None
            self._lease.lose("the member leaves the group")
            await consumer.stop()  # leaving the group hands the partitions to a standby at once

    async def _assigned(self, partitions: list[TopicPartition]) -> None:
        """A holding reads the partitions on from its positions; otherwise they wait, paused, for one."""
        consumer = self._consumer
        if consumer is None or not partitions:
            return
        if self._holding:
            await self._position(consumer, partitions)
        else:
            consumer.pause(*partitions)

    async def _await_lease(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> bool:
        """Stay in the group (polling) until this member may hold: ``lease_s`` after its assignment,
        with a commit accepted. False when stopped first."""
        while not stop.is_set():
            await consumer.getmany(timeout_ms=200)  # partitions stay paused: nothing is read
            at = self._lease.takeover_at()
            if at is not None and time.monotonic() >= at and await self._renew(consumer):
                return True
        return False

    async def _hold(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """One holding: restore, fence older holders' saves with this term's first save, then read,
        notify and apply commands until ``stop`` or the lease's end; a last save when stopped."""
        ended = asyncio.Event()
        await self.open()
        self._holding = True
        try:
            await self.save()
            await self._position(consumer, self._lease.assigned)
            log.info("notifier holds the lease (term %d)", self._term)
            await _together(ended, self._read(consumer, ended), self.notify(ended), self._watch(stop, ended))
            if stop.is_set():
                await self.save()
        except LeaseLost:
            log.warning("notifier lease lapsed during term %d; standing by", self._term)
        finally:
            self._holding = False
            self._forget()

    async def _watch(self, stop: asyncio.Event, ended: asyncio.Event) -> None:
        """End the holding on ``stop`` or when the lease is no longer valid."""
        while not ended.is_set():
            if stop.is_set() or not self._lease.valid():
                ended.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    async def _position(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Seek ``partitions`` to the positions in memory (from their start when none) and read them."""
        await self._forget_foreign_positions(consumer, partitions)
        fresh = [tp for tp in partitions if tp.partition not in self._positions]
        for tp in partitions:
            if tp.partition in self._positions:
                consumer.seek(tp, self._positions[tp.partition])
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        consumer.resume(*partitions)

    async def _read(self, consumer: AIOKafkaConsumer, ended: asyncio.Event) -> None:
        """Read the alerts topic until ``ended``, renewing the lease every ``renew_s``; raises on Kafka
        errors (the member rejoins; the next holding resumes from the saved positions)."""
        renew_at = time.monotonic() + self.config.renew_s
        while not ended.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            moved = bool(batches)
            transitions = [t for tp, records in batches.items() for r in records if (t := self._take(tp, r))]
            if transitions:
                self.notifier.receive(transitions)
            if transitions or (moved and time.monotonic() - self._last_save >= self.config.lazy_save_s):
                await self.save()
            if time.monotonic() >= renew_at:
                renew_at = time.monotonic() + self.config.renew_s
                await self._renew(consumer)

    async def _forget_foreign_positions(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Read from its start a partition whose saved position is past the end of its log: the topic
        was recreated (a log's end never moves back), so its records are new, and the saved position
        and replay frontier, which belong to the old log, would pass over them."""
        # Policy (the sink's differs: it refuses): the notifier's state is its own, so it can start a
        # recreated log over; the sink's rows are keyed by offsets of the old log and cannot.
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(partitions)).items()}
        for partition, end in past_end(self._positions, ends).items():
            log.warning("alerts partition %d: saved position %d is past the end of its log (%d): the topic was "
                        "recreated; reading it from its start", partition, self._positions[partition], end)  # fmt: skip
            del self._positions[partition]
            self._replays.reset(partition, None)

    def _take(self, tp: TopicPartition, record: Any) -> AlertTransition | None:
        """The transition ``record`` carries, unless it is a replay or unreadable."""
        self._positions[tp.partition] = record.offset + 1
        try:
            decoded = decode_transition(record.value)
        except WireError as exc:
            UNREADABLE.inc()
            log.warning("alerts record at %d of partition %d: %s", record.offset, tp.partition, exc)
            return None
        if decoded.src_partition != tp.partition:  # trust only the assignment: the frontier is per partition
            UNREADABLE.inc()
            log.warning("alerts record at %d of partition %d names source partition %d; skipped",
                        record.offset, tp.partition, decoded.src_partition)  # fmt: skip
            return None
        if not self._replays.admit(tp.partition, decoded.identity):
            REPLAYS_SKIPPED.inc()
            return None
        TRANSITIONS.inc()
        return transition_from_record(decoded)

    async def _renew(self, consumer: AIOKafkaConsumer) -> bool:
        """Commit the positions (the committed offset of a partition not read yet again); accepted,
        the lease is valid until ``lease_s`` after this call began. Whether it was accepted."""
        began = time.monotonic()
        try:
            async with asyncio.timeout(self.config.lease_s):
                offsets = {}
                for tp in consumer.assignment():
                    position = self._positions.get(tp.partition)
                    offsets[tp] = position if position is not None else (await consumer.committed(tp)) or 0
                if not offsets:
                    return False
                await consumer.commit(offsets)
        except (KafkaError, TimeoutError) as exc:
            log.info("notifier lease not renewed: %r", exc)
            return False
        self._lease.renewed(began)
        return True
