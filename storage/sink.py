"""The sink: Kafka (metrics, spans, logs, rollups, alerts, deadletter) -> ClickHouse, in batches, exactly once.

The sink is the only writer of ClickHouse. Exactly-once effect without a second store:

- every row carries the Kafka partition and offset of the record it came from, and one flush is
  one insert per table; on (re)assignment the sink seeks each partition to just after the highest
  offset stored, so a crash between insert and commit neither loses nor repeats a record;
- the stream stage may re-emit rollups after its own restart; those carry the identity
  ``(partition, tick offset, chunk)`` of the first emission, and partition N of ``rollups`` only
  holds emissions of metrics partition N in tick order, so anything at or below the highest
  stored identity is a repeat and is skipped. The ``alerts`` topic is laid out the same way
  (identity ``(partition, tick offset, seq)``, schemas/alerts.py): its transitions become rows of
  ``alert_history`` with the same skipping; its ``states`` snapshots are the stream stage's own
  restart state and are passed over.

Spans and log records are redacted (:class:`~schemas.Redactor`) before they are stored: the sink is
the one writer of ClickHouse, so a producer writing to Kafka directly cannot store a secret either.
The spans topic also carries the stream stage's window ticks; the sink passes over them.

Kafka commits happen after each flush, for lag monitoring; correctness never depends on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from schemas import (
    MetricBatch,
    Redactor,
    Tick,
    Topics,
    WireError,
    decode_deadletter,
    decode_logs,
    decode_metrics_record,
    decode_rollups,
    decode_spans,
)
from schemas.alerts import decode_alert_record
from storage import metrics
from storage.client import Store
from storage.rows import (
    AlertHistoryColumns,
    DeadLetterColumns,
    LogColumns,
    PointColumns,
    RollupColumns,
    SpanColumns,
    TableColumns,
)
from storage.tiers import TierFiller

__all__ = ["ForeignStoreError", "Sink", "SinkConfig"]

log = logging.getLogger("perfpulse.storage.sink")


@dataclass(frozen=True)
class SinkConfig:
    bootstrap: str  # Kafka bootstrap servers
    topics: Topics
    group: str  # Kafka consumer group of the sinks
    points_flush_s: float = 1.0  # longest a raw point waits for its insert (ClickHouse likes ~1 insert/s)
    rollups_flush_s: float = 0.1  # longest a rollup waits: it decides when a window is queryable
    max_buffered_rows: int = 250_000  # flush a table earlier when this many of its rows are waiting
    spans_flush_s: float = 1.0  # longest a span waits for its insert
    logs_flush_s: float = 1.0  # longest a log record waits for its insert
    alerts_flush_s: float = 0.5  # longest an alert transition waits for its insert (history)
    redactor: Redactor = field(default_factory=Redactor)  # masks secrets in spans and logs before insert


class _Buffer(Protocol):
    rows: int  # rows waiting

    def take(self) -> TableColumns: ...


@dataclass
class _Pending:
    """Rows of one table waiting for their insert."""

    rows: _Buffer
    max_age_s: float
    since: float | None = None  # monotonic time of the oldest waiting row


class ForeignStoreError(RuntimeError):
    """The store holds Kafka offsets beyond the end of the topics assigned: it was filled from
    other topics, and resuming after those offsets would lose records."""


async def _foreign_partitions(
    consumer: AIOKafkaConsumer, assigned: list[TopicPartition], stored: dict[tuple[str, int], int]
) -> list[str]:
    """Each assigned partition whose highest stored offset is at or past the end of its log (a
    log's end never moves back, so such a store was filled from another incarnation of the topic)."""
    ends = await consumer.end_offsets(assigned)
    return [
        f"{tp.topic}[{tp.partition}] stored up to offset {offset}, its log ends at {ends[tp]}"
        for tp in assigned
        if (offset := stored.get((tp.topic, tp.partition))) is not None and offset >= ends[tp]
    ]


class _Resume(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._sink.flush()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._sink.resume(assigned)


class Sink:
    """Consumes the topics and writes ClickHouse; :meth:`run` until the stop event is set."""

    def __init__(self, config: SinkConfig, store: Store) -> None:
        self.config = config
        self.store = store
        topics = config.topics
        self._points = PointColumns()
        self._rollups = RollupColumns()
        self._letters = DeadLetterColumns()
        self._spans = SpanColumns(config.redactor)
        self._logs = LogColumns(config.redactor)
        self._alerts = AlertHistoryColumns()
        self._pending = {
            topics.metrics: _Pending(self._points, config.points_flush_s),
            topics.spans: _Pending(self._spans, config.spans_flush_s),
            topics.logs: _Pending(self._logs, config.logs_flush_s),
            topics.rollups: _Pending(self._rollups, config.rollups_flush_s),
            topics.alerts: _Pending(self._alerts, config.alerts_flush_s),
            topics.deadletter: _Pending(self._letters, config.rollups_flush_s),
        }
        self._frontier: dict[int, tuple[int, int]] = {}  # rollups partition -> highest (tick, chunk) kept
        self._alert_frontier: dict[int, tuple[int, int]] = {}  # alerts partition -> highest (tick, seq) taken
        self._consumed: dict[TopicPartition, int] = {}  # next offset per partition, buffered included
        self._tiers = TierFiller(store)
        self._consumer: AIOKafkaConsumer | None = None
        self._foreign: ForeignStoreError | None = None  # found on assignment; run() raises it
        self._flush_lock = asyncio.Lock()
        self.flushes = 0

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap,
            group_id=self.config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            max_poll_records=20_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )
        consumer.subscribe(list(self._pending), listener=_Resume(self))
        self._consumer = consumer
        self._foreign = None
        try:
            await consumer.start()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=100, max_records=20_000)
                if self._foreign is not None:
                    raise self._foreign
                for tp, records in batches.items():
                    self._take(tp, records)
                due = self._due()
                if due:
                    await self.flush(due)
            await self.flush()
        finally:
            self._consumer = None
            await consumer.stop()

    def _take(self, tp: TopicPartition, records: list[Any]) -> None:
        topics = self.config.topics
        for record in records:
            if tp.topic == topics.metrics:
                self._take_metrics(tp, record)
            elif tp.topic == topics.spans:
                self._take_spans(tp, record)
            elif tp.topic == topics.logs:
                self._take_logs(tp, record)
            elif tp.topic == topics.rollups:
                self._take_rollups(tp, record)
            elif tp.topic == topics.alerts:
                self._take_alert(tp, record)
            else:
                self._take_letter(tp, record)
        if records:
            self._consumed[tp] = records[-1].offset + 1
            pending = self._pending[tp.topic]
            if pending.since is None and pending.rows.rows:
                pending.since = time.monotonic()

    def _take_metrics(self, tp: TopicPartition, record: Any) -> None:
        try:
            decoded = decode_metrics_record(record.value)
        except WireError:
            metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()
            return
        if isinstance(decoded, MetricBatch):
            self._points.add(tp.partition, record.offset, decoded)

    def _take_spans(self, tp: TopicPartition, record: Any) -> None:
        try:
            spans = decode_spans(record.value)
        except WireError:
            self._unreadable(tp, record.value)
            return
        self._spans.add(tp.partition, record.offset, spans)

    def _take_logs(self, tp: TopicPartition, record: Any) -> None:
        try:
            records = decode_logs(record.value)
        except WireError:
            self._unreadable(tp, record.value)
            return
        self._logs.add(tp.partition, record.offset, records)

    @staticmethod
    def _unreadable(tp: TopicPartition, value: bytes) -> None:
        """Count a record that is neither data nor a window tick (the stream stage ticks into the
        spans partitions it owns; the stream stage dead-letters what nobody can read)."""
        try:
            if isinstance(decode_metrics_record(value), Tick):
                return
        except WireError:
            pass
        metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()

    def _take_rollups(self, tp: TopicPartition, record: Any) -> None:
        try:
            batch = decode_rollups(record.value)
        except WireError:
            metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()
            return
        identity = (batch.tick_offset, batch.chunk)
        seen = self._frontier.get(tp.partition)
        if seen is not None and identity <= seen:
            metrics.REPLAYS_SKIPPED.inc()
            return
        self._frontier[tp.partition] = identity
        self._rollups.add(record.offset, batch)

    def _take_alert(self, tp: TopicPartition, record: Any) -> None:
        """A transition becomes a history row unless it re-emits one taken already; a record whose
        source partition is not its own would break that skipping, so it is refused (counted)."""
        try:
            alert = decode_alert_record(record.value)
        except WireError:
            metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()
            return
        if alert.src_partition != tp.partition:
            log.warning("alerts record at %d of partition %d names source partition %d; skipped",
                        record.offset, tp.partition, alert.src_partition)  # fmt: skip
            metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()
            return
        seen = self._alert_frontier.get(tp.partition)
        if seen is not None and alert.identity <= seen:
            metrics.ALERT_REPLAYS_SKIPPED.inc()
            return
        self._alert_frontier[tp.partition] = alert.identity
        if alert.kind != "transition":
            return  # a ``states`` snapshot: the stream stage's restart state, not history
        try:
            self._alerts.add(record.offset, alert)
        except ValueError as exc:
            log.warning("alerts record at %d of partition %d is not a transition: %s", record.offset, tp.partition, exc)
            metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()

    def _take_letter(self, tp: TopicPartition, record: Any) -> None:
        try:
            letter = decode_deadletter(record.value)
        except WireError:
            metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()
            return
        self._letters.add(tp.partition, record.offset, letter)

    def _due(self) -> list[str]:
        """Topics whose waiting rows are old enough, or numerous enough, to insert now."""
        now = time.monotonic()
        return [
            topic
            for topic, pending in self._pending.items()
            if pending.since is not None
            and (now - pending.since >= pending.max_age_s or pending.rows.rows >= self.config.max_buffered_rows)
        ]

    async def flush(self, topics: list[str] | None = None) -> None:
        """Insert the waiting rows of ``topics`` (default: all), one insert per table, then commit
        the consumed offsets of those topics."""
        async with self._flush_lock:
            for topic in topics or list(self._pending):
                pending = self._pending[topic]
                if pending.rows.rows:
                    await self._insert(pending.rows.take())
                pending.since = None
            self.flushes += 1
            await self._commit(topics or list(self._pending))

    async def _insert(self, data: TableColumns) -> None:
        table, columns, names = data
        started = time.perf_counter()
        await asyncio.to_thread(self.store.insert, table, columns, names)
        if table == "rollups":
            await asyncio.to_thread(self._tiers.copy, dict(zip(names, columns, strict=True)))
        metrics.INSERT_SECONDS.labels(table).observe(time.perf_counter() - started)
        metrics.ROWS_INSERTED.labels(table).inc(len(columns[0]))

    async def _commit(self, topics: list[str]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in self._consumed.items() if tp.topic in topics and tp in assigned}
        try:
            if offsets:
                await consumer.commit(offsets)
        except KafkaError as exc:  # only lag reporting depends on commits
            log.warning("cannot commit sink offsets: %r", exc)
        for tp, offset in offsets.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - offset))

    async def resume(self, assigned: list[TopicPartition]) -> None:
        """Seek each assigned partition to just after the last record stored in ClickHouse."""
        consumer = self._consumer
        if consumer is None:
            return
        # Paused until seeked: while the stored positions are read, getmany() must not hand out
        # records fetched from the committed (or earliest) position of these partitions.
        consumer.pause(*assigned)
        stored, frontiers = await asyncio.to_thread(self._stored_positions)
        if foreign := await _foreign_partitions(consumer, assigned, stored):
            # Left paused: resuming after offsets of another topic would pass over records never
            # stored. run() raises this; the records wait in Kafka until the setup is fixed.
            self._foreign = ForeignStoreError(
                f"the store holds records of other topics: {'; '.join(foreign)}. The topics were recreated, "
                "the topic prefix changed or the store belongs to another Kafka cluster: use a store (data dir "
                "or ClickHouse database) of its own for these topics, or the topics it was filled from"
            )
            return
        topics = self.config.topics
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None:
                consumer.seek(tp, offset + 1)
            self._consumed.pop(tp, None)
            if tp.topic == topics.rollups:
                self._frontier.pop(tp.partition, None)
                if (frontier := frontiers.get((tp.topic, tp.partition))) is not None:
                    self._frontier[tp.partition] = frontier
                await asyncio.to_thread(self._tiers.resume, tp.partition, offset)
            elif tp.topic == topics.alerts:
                self._alert_frontier.pop(tp.partition, None)
                if (frontier := frontiers.get((tp.topic, tp.partition))) is not None:
                    self._alert_frontier[tp.partition] = frontier
        consumer.resume(*assigned)
        log.info("sink assigned %d partitions, resuming after stored offsets", len(assigned))

    def _stored_positions(self) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], tuple[int, int]]]:
        """Highest stored offset per (topic, partition), and the identity frontier per rollups and
        alerts partition."""
        topics = self.config.topics
        found: dict[tuple[str, int], int] = {}
        frontiers: dict[tuple[str, int], tuple[int, int]] = {}
        for partition, offset in self.store.rows(
            "SELECT src_partition, max(src_offset) FROM points GROUP BY src_partition"
        ):
            found[(topics.metrics, partition)] = offset
        for topic, table in ((topics.spans, "spans"), (topics.logs, "logs")):
            for partition, offset in self.store.rows(
                f"SELECT src_partition, max(src_offset) FROM {table} GROUP BY src_partition"
            ):
                found[(topic, partition)] = offset
        for partition, offset, frontier in self.store.rows(
            "SELECT src_partition, max(kafka_offset), max((src_tick, src_chunk)) FROM rollups GROUP BY src_partition"
        ):
            found[(topics.rollups, partition)] = offset
            frontiers[(topics.rollups, partition)] = (int(frontier[0]), int(frontier[1]))
        for partition, offset, frontier in self.store.rows(
            "SELECT src_partition, max(kafka_offset), max((tick_offset, seq)) FROM alert_history GROUP BY src_partition"
        ):
            found[(topics.alerts, partition)] = offset
            frontiers[(topics.alerts, partition)] = (int(frontier[0]), int(frontier[1]))
        for partition, offset in self.store.rows(
            "SELECT kafka_partition, max(kafka_offset) FROM deadletters GROUP BY kafka_partition"
        ):
            found[(topics.deadletter, partition)] = offset
        return found, frontiers
