"""The Faust app of the stream stage: metric batches and spans in, window rollups out.

One agent consumes the ``metrics`` and ``spans`` topics; a timer writes a tick into every
partition this worker owns; the agent folds metric batches (and the RED metrics derived from span
batches, stream/spanmetrics.py) into :class:`~stream.partition.PartitionWindows` and, on each tick,
sends the rows it emits to the partition of ``rollups`` that belongs to the source partition
(metrics partition N -> N, spans partition N -> metrics partitions + N); alert transitions and
alert-state snapshots go to the same partition of ``alerts`` and ``alert-states``. Every record it
writes names its type in a header (schemas/records.py), and every record it reads is decoded once,
by the type it names. Several ``perfpulse worker`` processes share the partitions through the
Faust consumer group.

Faust is used for the group, the agent, the timer and the producer, but not for tables: window
state is rebuilt by replay (see stream/partition.py for why, with the upstream issues), so offsets
are acknowledged by hand (``stream.noack()``) and only up to each partition's restart tick.
tests/e2e/test_faults.py kills workers mid-run and restarts them, and kills one of two workers so
its partitions move in a rebalance.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from alerting.rules import RulesWatcher
from schemas import (
    DeadLetter,
    MetricBatch,
    RecordType,
    RollupBatch,
    Tick,
    Topics,
    WireError,
    decode_metrics_record,
    decode_tick,
    encode_deadletter,
    encode_rollups,
    encode_tick,
    record_type,
    type_headers,
    unreadable_reason,
)
from schemas.alerts import StatesRecord, TransitionRecord, encode_states, encode_transition
from schemas.kafka_security import KafkaSecurity
from schemas.spans import decode_span_arrays
from stream import metrics
from stream.alerts import PartitionAlerts
from stream.caps import SeriesCaps
from stream.consumer import use_worker_transport
from stream.partition import PartitionWindows
from stream.restore import last_states
from stream.spanmetrics import span_metrics

__all__ = ["StreamConfig", "StreamWorker"]

log = logging.getLogger("perfpulse.stream")

ROWS_PER_RECORD = 100  # rollup rows per Kafka record (~4 KB each with a full digest)
_OVERFLOW_LOG_EVERY_S = 60.0
METADATA_MAX_AGE_MS = 10_000  # how often consumers refresh topic metadata (see _build_app)


@dataclass(frozen=True)
class StreamConfig:
    bootstrap: str  # Kafka bootstrap servers, "host:port[,host:port]"
    topics: Topics
    group: str  # Faust app id = Kafka consumer group
    window_ms: int  # tumbling window length
    grace_ms: int  # a window closes at its end plus this
    tick_interval_ms: int | None = None  # default: a tenth of the window, between 100 and 500 ms
    metrics_partitions: int = 4  # partitions of the metrics topic: spans partition N rolls up into this + N
    session_timeout_s: float = 10.0  # how fast a dead worker's partitions move on
    rules_path: Path | None = None  # alert rules file, evaluated at window closes; None: no alerting
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # how Faust and the restore reach Kafka
    caps: SeriesCaps = field(default_factory=SeriesCaps)  # series per window (stream/caps.py)
    faust_dir: Path = Path(".perfpulse/stream")  # Faust's own files (table metadata; the store is memory)

    @property
    def tick_every_ms(self) -> int:
        if self.tick_interval_ms is not None:
            return self.tick_interval_ms
        # A window becomes queryable at the first tick after its end + grace: ticks every tenth of a
        # window keep that wait small (100 ms for 1 s windows) at ~10 tiny records/s per partition.
        return min(500, max(100, self.window_ms // 10))


@dataclass
class _Partition:
    windows: PartitionWindows
    alerts: PartitionAlerts
    held: deque[Any] = field(default_factory=deque)  # events not yet acknowledged, in offset order


class StreamWorker:
    """Builds the Faust app and keeps the window state of the partitions it owns."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self._partitions: dict[TP, _Partition] = {}
        self._overflow_logged = -math.inf  # monotonic time of the last overflow warning
        self._rules = RulesWatcher(config.rules_path, window_ms=config.window_ms) if config.rules_path else None
        if self._rules is not None:
            self._rules.reload()
            for error in self._rules.errors:
                log.error("alert rules not loaded: %s", error)
        self.app = self._build_app()

    def _build_app(self) -> faust.App:
        cfg = self.config
        cfg.faust_dir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
        app = faust.App(
            cfg.group,
            broker=";".join(f"kafka://{host}" for host in cfg.bootstrap.split(",")),
            broker_credentials=cfg.security.faust_credentials(),
            store="memory://",
            # Faust's default is "<app id>-data" in the working directory.
            datadir=str(cfg.faust_dir),
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=False,
            # Held (unacknowledged) events are the design here; Faust must not wait for them to
            # drain before a rebalance.
            stream_wait_empty=False,
            broker_commit_interval=1.0,
            broker_session_timeout=cfg.session_timeout_s,
            broker_heartbeat_interval=max(1.0, cfg.session_timeout_s / 5),
            broker_rebalance_timeout=max(20.0, cfg.session_timeout_s * 2),
            consumer_auto_offset_reset="earliest",
            producer_max_request_size=4 * 1024 * 1024,
            producer_acks=-1,
            # Faust declares its own leader topic; ours exist already (perfpulse.topics creates them
            # with the configured partition count before any stage starts).
            topic_allow_declare=True,
            topic_partitions=cfg.metrics_partitions,
            # A broker that has just restarted answers UNKNOWN_TOPIC_OR_PARTITION for a while; a group
            # that rebalances then is assigned nothing of those topics ("Ignoring missing topic") until
            # its next metadata refresh, 5 minutes by default: seen as a worker idle for minutes after
            # a Kafka restart. Refreshing every 10 s sees the topics back and rebalances onto them.
            consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        use_worker_transport(app)  # read_committed, and a fetch never held 1.5 s by idle partitions

        def raw(*names: str) -> Any:
            return app.topic(*names, value_serializer="raw", key_serializer="raw")

        source = raw(cfg.topics.metrics, cfg.topics.spans)
        self._tick_targets = {name: raw(name) for name in (cfg.topics.metrics, cfg.topics.spans)}
        self._rollups = raw(cfg.topics.rollups)
        self._alerts = raw(cfg.topics.alerts)
        self._alert_states = raw(cfg.topics.alert_states)
        self._deadletter = raw(cfg.topics.deadletter)

        @app.agent(source, name="perfpulse.stream.windows")
        async def windows(stream: Any) -> None:
            async for event in stream.noack().events():
                await self._handle(event)

        @app.timer(cfg.tick_every_ms / 1000.0)  # type: ignore[untyped-decorator]
        async def tick() -> None:
            await self._send_ticks()

        @app.on_partitions_revoked.connect  # type: ignore[arg-type]
        async def on_revoked(sender: faust.App, revoked: set[TP], **_: Any) -> None:
            for tp in revoked:
                # The next owner replays from the committed tick; events held here must not be
                # acknowledged any more.
                self._partitions.pop(tp, None)

        return app

    async def _send_ticks(self) -> None:
        if self._rules is not None:
            self._rules.poll()  # one stat; a changed file is validated and applied, or reported
        now_ms = time.time_ns() // 1_000_000
        value = encode_tick(now_ms)
        for tp in self.app.consumer.assignment():
            target = self._tick_targets.get(tp.topic)
            if target is not None:
                await target.send(value=value, partition=tp.partition, headers=type_headers(RecordType.TICK))
                self._report_lag(tp)

    def _rollups_partition(self, tp: TP) -> int:
        return tp.partition if tp.topic == self.config.topics.metrics else self.config.metrics_partitions + tp.partition

    def _report_lag(self, tp: TP) -> None:
        state = self._partitions.get(tp)
        highwater = self.app.consumer.highwater(tp)
        if state is None or highwater is None:
            return
        metrics.CONSUMER_LAG.labels(self.config.group, tp.topic, str(tp.partition)).set(
            max(0, highwater - state.windows.last_offset - 1)
        )
        metrics.OPEN_WINDOWS.labels(f"{tp.topic}/{tp.partition}").set(state.windows.open_windows)

    async def _state_for(self, tp: TP, offset: int) -> _Partition:
        state = self._partitions.get(tp)
        if state is not None and offset <= state.windows.last_offset:
            # The consumer went back (a seek to the committed tick after a rebalance): what is held
            # will be replayed, so start over rather than count it twice.
            log.info("%s[%d] rewound to offset %d: rebuilding its windows", tp.topic, tp.partition, offset)
            state = None
        if state is None:
            cfg = self.config
            alerts = PartitionAlerts(cfg.window_ms, cfg.grace_ms, lambda: self._rules.current if self._rules else None)
            if self._rules is not None:
                snapshot = await last_states(
                    cfg.bootstrap, cfg.topics.alert_states, self._rollups_partition(tp), security=cfg.security
                )
                if snapshot is not None:
                    alerts.restore(snapshot)
            windows = PartitionWindows(cfg.window_ms, cfg.grace_ms, caps=cfg.caps)
            state = self._partitions[tp] = _Partition(windows, alerts)
        return state

    def _decode(self, tp: TP, headers: Any, value: bytes) -> list[MetricBatch] | Tick:
        """A record as metric batches to fold in, or a tick, decoded once by the type it names;
        :class:`WireError` when unreadable or not of a type its topic carries."""
        kind = record_type(headers, value)
        topics = self.config.topics
        if kind is RecordType.TICK:
            return decode_tick(value)
        if kind is RecordType.METRICS and tp.topic == topics.metrics:
            record = decode_metrics_record(value)
            return [record] if isinstance(record, MetricBatch) else record
        if kind is RecordType.SPANS and tp.topic == topics.spans:
            return span_metrics(decode_span_arrays(value))
        raise WireError(unreadable_reason(headers, value, tp.topic))

    async def _handle(self, event: Any) -> None:
        message = event.message
        tp, offset = message.tp, message.offset
        state = await self._state_for(tp, offset)
        state.held.append(event)
        try:
            record = self._decode(tp, message.headers, message.value)
        except WireError as exc:
            state.windows.last_offset = offset
            await self._dead_letter(tp, offset, message.value, str(exc))
            return
        if isinstance(record, Tick):
            await self._on_tick(self._rollups_partition(tp), offset, record, state)
            return
        overflowed = state.windows.overflow_points
        for batch in record:
            late = state.windows.add(offset, batch)
            metrics.POINTS_PROCESSED.inc(batch.n_points)
            if late:
                metrics.LATE_POINTS.inc(late)
        if state.windows.overflow_points > overflowed:
            self._overflowed(tp, state.windows.overflow_points - overflowed)

    async def _on_tick(self, partition: int, offset: int, tick: Tick, state: _Partition) -> None:
        """Emit what the tick closes into rollups ``partition`` and the alert records of its
        evaluation into alerts ``partition``, then acknowledge up to the restart tick."""
        result = state.windows.tick(offset, tick)
        futures = []
        for chunk, start in enumerate(range(0, len(result.rows), ROWS_PER_RECORD)):
            batch = RollupBatch(partition, offset, chunk, result.rows[start : start + ROWS_PER_RECORD])
            value = encode_rollups(batch)
            headers = type_headers(RecordType.ROLLUPS)
            futures.append(await self._rollups.send(value=value, partition=partition, headers=headers))
        watermark = state.windows.watermark_ms if state.windows.watermark_ms is not None else tick.close_ms
        for record in state.alerts.on_tick(offset, watermark, result.rows):
            futures.append(await self._send_alert(replace(record, src_partition=partition)))
        for future in futures:
            await future  # acknowledged by Kafka before the offsets behind it are committed
        if result.rows:
            metrics.ROLLUP_ROWS.inc(len(result.rows))
        if result.closed_windows:
            metrics.WINDOWS_EMITTED.inc(result.closed_windows)
        if result.restart_offset is not None:
            held = state.held
            while held and held[0].message.offset < result.restart_offset:
                held.popleft().ack()

    async def _send_alert(self, record: TransitionRecord | StatesRecord) -> Any:
        """Send a transition to ``alerts``, a snapshot to ``alert-states``, into the partition of the
        record's source partition; returns the future of Kafka's acknowledgement."""
        if isinstance(record, TransitionRecord):
            metrics.ALERT_TRANSITIONS.inc()
            topic, value, kind = self._alerts, encode_transition(record), RecordType.ALERT_TRANSITION
        else:
            topic, value, kind = self._alert_states, encode_states(record), RecordType.ALERT_STATES
        return await topic.send(key=record.key, value=value, partition=record.src_partition, headers=type_headers(kind))

    def _overflowed(self, tp: TP, points: int) -> None:
        """Count points folded into overflow series; say so at most once a minute (a flood must not
        flood the log)."""
        metrics.OVERFLOW_POINTS.inc(points)
        now = time.monotonic()
        if now - self._overflow_logged >= _OVERFLOW_LOG_EVERY_S:
            self._overflow_logged = now
            caps = self.config.caps
            log.warning(
                "%s[%d]: points of new series past the series caps (%d a window, %d per service) went to "
                'overflow series labelled overflow="true"; perfpulse_stream_overflow_points_total counts them',
                tp.topic, tp.partition, caps.max_series, caps.max_per_service,
            )  # fmt: skip

    async def _dead_letter(self, tp: TP, offset: int, payload: bytes, reason: str) -> None:
        letter = DeadLetter(
            source_topic=tp.topic,
            source_partition=tp.partition,
            source_offset=offset,
            stage="stream",
            reason=reason,
            payload=payload,
            at_ms=time.time_ns() // 1_000_000,
        )
        key = f"{letter.source_topic}:{tp.partition}:{offset}".encode()
        future = await self._deadletter.send(
            key=key, value=encode_deadletter(letter), headers=type_headers(RecordType.DEADLETTER)
        )
        await future
        metrics.DEADLETTERS.labels("stream").inc()
        log.warning("dead-lettered %s[%d]@%d: %s", tp.topic, tp.partition, offset, reason)
