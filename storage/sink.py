"""The sink: Kafka (metrics, spans, logs, rollups, alerts, deadletter) -> ClickHouse, in batches, exactly once.

The sink is the only writer of ClickHouse. Exactly-once effect without a second store:

- every row carries the Kafka partition and offset of the record it came from, and one flush is
  one insert per table; on (re)assignment the sink seeks each partition to just after the highest
  offset stored, so a crash between insert and commit neither loses nor repeats a record;
- the tables partitioned by day (``points``, ``spans``, ``logs``: ``PARTITION BY toDate(...)``) or
  month (``alert_history``, ``rollups``) make one part per partition of an insert, and a crash between two parts
  would leave records stored in part, below the highest offset stored. So their rows are inserted
  one partition at a time (each insert one part: one partition, at most :data:`MAX_PART_ROWS` rows,
  cut at record boundaries, so all or nothing) and each partition of their topics resumes at the
  offset the group committed after the last complete flush (the Kafka commit follows every insert of
  a flush), or from the log's start when none was committed, but never after the highest offset
  stored; rows read again are dropped when their (source partition, table partition) holds their
  record already (:func:`partition_parts`). Per source partition and table partition the stored rows
  are those of every record up to the highest offset there, so that test is exact. The alerts
  topic's replay frontier restarts from the identities stored below the resume offset, so the
  records read again are skipped or taken as they were the first time;
- the stream stage may re-emit rollups after its own restart; those carry the identity
  ``(partition, tick offset, chunk)`` of the first emission, and partition N of ``rollups`` only
  holds emissions of metrics partition N in tick order, so anything at or below the highest
  stored identity is a repeat and is skipped (:class:`~schemas.ReplayFilter`; on resume its
  frontier is the highest identity stored from records before the resume offset, as those were
  flushed whole). The ``alerts`` topic is laid out the same way (identity ``(partition, tick offset,
  seq)``, schemas/alerts.py): its transitions become rows of ``alert_history`` with the same
  skipping. A record naming a source partition other than the one it was read from is refused
  (counted as unreadable): that skipping and the resume rest on it. After each insert into
  ``rollups`` its rows are copied into the rollup tiers, a month at a time (storage/tiers.py).

Each record is decoded once, by the type it names (schemas/records.py); a type its topic does not
carry is counted as unreadable. The metrics and spans topics also carry the stream stage's window
ticks; the sink passes over them. Spans and log records are redacted (:class:`~schemas.Redactor`)
before they are stored: the sink is the one writer of ClickHouse, so a producer writing to Kafka
directly cannot store a secret either.

Kafka commits happen after each flush, for lag monitoring and as the resume point of the day-partitioned
tables; a commit missing or behind only makes the sink read more again (and drop it), never store less.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from schemas import (
    MetricBatch,
    RecordType,
    Redactor,
    ReplayFilter,
    Topics,
    WireError,
    decode_deadletter,
    decode_logs,
    decode_metrics_record,
    decode_rollups,
    past_end,
    record_type,
)
from schemas.alerts import decode_transition
from schemas.events import StoredWindow
from schemas.kafka_security import KafkaSecurity
from schemas.spans import decode_span_arrays
from schemas.stage import Health
from storage import metrics
from storage.client import Store
from storage.held import HeldPartitions
from storage.rows import (
    AlertHistoryColumns,
    DeadLetterColumns,
    LogColumns,
    PointColumns,
    RollupColumns,
    SpanColumns,
    TableColumns,
    utc_months,
)
from storage.tiers import TierFiller

__all__ = ["MAX_PART_ROWS", "ForeignStoreError", "PartitionKey", "Sink", "SinkConfig", "partition_parts"]

log = logging.getLogger("perfpulse.storage.sink")

# Rows of one insert of one partition: below ClickHouse's max_insert_block_size (1,048,449), so the
# server writes them as one block, one part.
MAX_PART_ROWS = 500_000
_MS_PER_DAY = 86_400_000
_NS_PER_DAY = 86_400 * 10**9
_HELD_CHECK_S = 5.0  # how often the partitions are looked at for an open transaction holding them

PartStored = Mapping[int, Mapping[int, int]]  # source partition -> table partition -> highest offset stored


@dataclass(frozen=True)
class PartitionKey:
    """A table's partition of each row: ``of`` its ``column`` (epoch integers), as ClickHouse's ``sql``
    (a number) computes it; ``of`` grows with time. ``offset`` names the row's Kafka record offset."""

    column: str
    sql: str
    of: Callable[[np.ndarray], np.ndarray]
    offset: str = "src_offset"


_PARTITIONED = {
    "points": PartitionKey("ts", "toUInt32(toDate(ts))", lambda ms: ms // _MS_PER_DAY),
    "spans": PartitionKey("start", "toUInt32(toDate(start))", lambda ns: ns // _NS_PER_DAY),
    "logs": PartitionKey("ts", "toUInt32(toDate(ts))", lambda ns: ns // _NS_PER_DAY),
    "alert_history": PartitionKey("at", "toYYYYMM(at)", utc_months, offset="kafka_offset"),
    "rollups": PartitionKey("window_start", "toYYYYMM(window_start)", utc_months, offset="kafka_offset"),
}
# Per table whose topic is laid out by identity, what identifies a record's emission (ReplayFilter).
_IDENTITY = {"rollups": "(src_tick, src_chunk)", "alert_history": "(tick_offset, seq)"}


def partition_parts(
    data: TableColumns, key: PartitionKey, stored: PartStored, max_rows: int = MAX_PART_ROWS
) -> list[TableColumns]:
    """``data`` (rows with ``src_partition`` and the ``key``'s offset column, in the order read) as
    inserts of one table partition each, in partition order, each at most ``max_rows`` rows cut between
    records (one record's rows of a partition are never split); a row is dropped when ``stored`` holds
    its record's rows of its partition already (its offset at or below the highest stored there for its
    source partition). Linear in the rows."""
    table, columns, names = data
    at = {name: i for i, name in enumerate(names)}
    times = _integers(columns[at[key.column]])
    if not len(times):
        return []
    if not stored and len(times) <= max_rows:
        first, last = key.of(np.array([times.min(), times.max()], dtype=np.int64))
        if first == last:
            return [data]  # the usual flush: one partition, nothing read again
    part = key.of(times)
    source = _integers(columns[at["src_partition"]])
    offset = _integers(columns[at[key.offset]])
    keep = np.ones(len(part), dtype=bool)
    if stored:
        pairs, inverse = np.unique(np.stack([source, part]), axis=1, return_inverse=True)
        upto = np.array([stored.get(int(s), {}).get(int(p), -1) for s, p in pairs.T], dtype=np.int64)
        keep = offset > upto[inverse.reshape(-1)]
    parts = []
    for one in np.unique(part[keep]):
        rows = np.flatnonzero(keep & (part == one))
        for piece in _pieces(rows, source, offset, max_rows):
            parts.append((table, _rows_of(columns, piece), names))
    return parts


def _pieces(rows: np.ndarray, source: np.ndarray, offset: np.ndarray, max_rows: int) -> list[np.ndarray]:
    """``rows`` cut into runs of at most ``max_rows``, each cut between two records (a record longer
    than ``max_rows`` is one run)."""
    pieces = []
    start = 0
    while start < len(rows):
        end = min(start + max_rows, len(rows))
        cut = end
        while 0 < cut < len(rows) and cut > start and _same_record(rows, source, offset, cut):
            cut -= 1
        if cut == start:  # one record longer than max_rows: to its end
            cut = end
            while cut < len(rows) and _same_record(rows, source, offset, cut):
                cut += 1
        pieces.append(rows[start:cut])
        start = cut
    return pieces


def _same_record(rows: np.ndarray, source: np.ndarray, offset: np.ndarray, i: int) -> bool:
    """Whether rows[i - 1] and rows[i] come from one Kafka record."""
    a, b = rows[i - 1], rows[i]
    return bool(source[a] == source[b] and offset[a] == offset[b])


def _stored_windows(rows: dict[str, Any]) -> list[StoredWindow]:
    """The window cells of one ``rollups`` insert (column name -> values), each once, in order."""
    cells = zip(rows["name"], rows["service"], rows["window_start"], rows["window_ms"], rows["late"], strict=True)
    return sorted({StoredWindow(m, s, int(start), int(width), bool(late)) for m, s, start, width, late in cells},
                  key=lambda w: (w.metric, w.service, w.start_ms))  # fmt: skip


def _integers(column: Any) -> np.ndarray:
    """A column of integers (epoch times, partitions, offsets) as int64: a list, a numpy array or an
    Arrow array (timestamps as their epoch integers)."""
    if isinstance(column, pa.Array):
        return np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)
    return np.asarray(column, dtype=np.int64)


def _rows_of(columns: list[Any], rows: np.ndarray) -> list[Any]:
    """``rows`` of each column (a run of rows is sliced)."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1:
        run = slice(int(rows[0]), int(rows[-1]) + 1)
        return [column[run] for column in columns]
    return [_take(column, rows) for column in columns]


def _take(column: Any, rows: np.ndarray) -> Any:
    """``rows`` of one column: a numpy array, an Arrow array or a list."""
    if isinstance(column, np.ndarray):
        return column[rows]
    if isinstance(column, pa.Array):
        return column.take(pa.array(rows))
    return [column[i] for i in rows.tolist()]


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
    # Told, after each insert of window rows, which (metric, service, window) cells changed
    # (schemas/events.py); the composition root publishes them to the query layer. Its failure is
    # logged and never stops the sink.
    on_stored: Callable[[list[StoredWindow], list[str]], Awaitable[None]] | None = None
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # how the consumer reaches Kafka
    held_after_s: float = 120.0  # a partition held this long by an open transaction is told (storage/held.py)


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
    """Each assigned partition whose stored records lie past the end of its log (:func:`~schemas.past_end`)."""
    positions = {tp: offset + 1 for tp in assigned if (offset := stored.get((tp.topic, tp.partition))) is not None}
    found = past_end(positions, await consumer.end_offsets(list(positions))) if positions else {}
    return [f"{tp.topic}[{tp.partition}] stored up to offset {positions[tp] - 1}, its log ends at {end}"
            for tp, end in found.items()]  # fmt: skip


def _pass_over(tp: TopicPartition, record: Any) -> None:
    """A window tick of the stream stage: it closes windows there, it is no data here."""


class _Resume(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._sink.flush()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._sink.resume(assigned)


class Sink:
    """Consumes the topics and writes ClickHouse; :meth:`run` until the stop event is set."""

    name = "sink"

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
        self._rollup_replays = ReplayFilter()  # per rollups partition: highest (tick, chunk) kept
        self._alert_replays = ReplayFilter()  # per alerts partition: highest (tick, seq) taken
        self._readers = self._readers_by_topic()
        self._consumed: dict[TopicPartition, int] = {}  # next offset per partition, buffered included
        # Per partitioned table, what the store held at the last resume, per source partition and table
        # partition, while the sink reads records it may have stored (partition_parts drops their rows).
        self._part_stored: dict[str, dict[int, dict[int, int]]] = {}
        self._tiers = TierFiller(store)
        self._consumer: AIOKafkaConsumer | None = None
        self._foreign: ForeignStoreError | None = None  # found on assignment; run() raises it
        self._lock = asyncio.Lock()  # taking records in (on a thread) and flushing them out: one at a time
        self._held = HeldPartitions(config.held_after_s)
        self.flushes = 0

    def health(self) -> Health:
        if self._foreign is not None:
            return Health(self.name, False, str(self._foreign))
        if self._consumer is None:
            return Health(self.name, False, "not consuming (starting, or Kafka unreachable)")
        held = "".join(
            f"; {h.partition.topic}-{h.partition.partition} held at offset {h.stable} for {h.seconds:.0f} s"
            for h in self._held.held
        )
        return Health(self.name, True, f"{self.flushes} flush(es){held}")

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
            # After a broker restart its topics are unknown for a while; a rebalance then assigns none
            # of them until the next metadata refresh (5 minutes by default): refresh every 10 s.
            metadata_max_age_ms=10_000,
            # The receivers send each request in a Kafka transaction: one answered 503 was aborted,
            # and its client's retry is the copy to store.
            isolation_level="read_committed",
            **self.config.security.client_options(),
        )
        consumer.subscribe(list(self._pending), listener=_Resume(self))
        self._consumer = consumer
        self._foreign = None
        try:
            await consumer.start()
            checked = time.monotonic()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=100, max_records=20_000)
                if time.monotonic() - checked >= _HELD_CHECK_S:
                    checked = time.monotonic()
                    await self._held.check(consumer, checked)
                if self._foreign is not None:
                    raise self._foreign
                if batches:
                    # Decoding is CPU work (a record of 500 spans ~4 ms): on a thread, so the API's event
                    # loop sharing this process keeps answering (it gets the GIL back every switch
                    # interval). Under the lock: a flush on revocation must not take the rows mid-append.
                    async with self._lock:
                        await asyncio.to_thread(self._take_all, batches)
                due = self._due()
                if due:
                    await self.flush(due)
            await self.flush()
        finally:
            self._consumer = None
            await consumer.stop()

    def _readers_by_topic(self) -> dict[str, dict[RecordType, Callable[[TopicPartition, Any], None]]]:
        """Per topic, the record types it carries and what takes each (decoding it once)."""
        topics = self.config.topics
        return {
            topics.metrics: {RecordType.METRICS: self._take_metrics, RecordType.TICK: _pass_over},
            topics.spans: {RecordType.SPANS: self._take_spans, RecordType.TICK: _pass_over},
            topics.logs: {RecordType.LOGS: self._take_logs},
            topics.rollups: {RecordType.ROLLUPS: self._take_rollups},
            topics.alerts: {RecordType.ALERT_TRANSITION: self._take_alert},
            topics.deadletter: {RecordType.DEADLETTER: self._take_letter},
        }

    def _take_all(self, batches: Mapping[TopicPartition, list[Any]]) -> None:
        for tp, records in batches.items():
            self._take(tp, records)

    def _take(self, tp: TopicPartition, records: list[Any]) -> None:
        readers = self._readers[tp.topic]
        for record in records:
            kind = record_type(record.headers, record.value)
            read = readers.get(kind) if kind is not None else None
            try:
                if read is None:
                    raise WireError(f"cannot take a record of type {kind and kind.value!r}: {tp.topic} carries none")
                read(tp, record)
            except WireError as exc:
                log.debug("%s[%d]@%d unreadable: %s", tp.topic, tp.partition, record.offset, exc)
                metrics.UNREADABLE_RECORDS.labels(tp.topic).inc()
        if records:
            self._consumed[tp] = records[-1].offset + 1
            pending = self._pending[tp.topic]
            if pending.since is None and pending.rows.rows:
                pending.since = time.monotonic()

    def _take_metrics(self, tp: TopicPartition, record: Any) -> None:
        batch = decode_metrics_record(record.value)
        if isinstance(batch, MetricBatch):
            self._points.add(tp.partition, record.offset, batch)

    def _take_spans(self, tp: TopicPartition, record: Any) -> None:
        self._spans.add(tp.partition, record.offset, decode_span_arrays(record.value))

    def _take_logs(self, tp: TopicPartition, record: Any) -> None:
        self._logs.add(tp.partition, record.offset, decode_logs(record.value))

    def _take_rollups(self, tp: TopicPartition, record: Any) -> None:
        batch = decode_rollups(record.value)
        if batch.src_partition != tp.partition:
            raise WireError(
                f"cannot take the rollups: they name source partition {batch.src_partition}, "
                f"read from partition {tp.partition}"
            )
        if not self._rollup_replays.admit(tp.partition, (batch.tick_offset, batch.chunk)):
            metrics.REPLAYS_SKIPPED.inc()
            return
        self._rollups.add(record.offset, batch)

    def _take_alert(self, tp: TopicPartition, record: Any) -> None:
        """A transition becomes a history row unless it re-emits one taken already; a record whose
        source partition is not its own would break that skipping, so it is refused (counted)."""
        transition = decode_transition(record.value)
        if transition.src_partition != tp.partition:
            raise WireError(
                f"cannot take the transition: it names source partition {transition.src_partition}, "
                f"read from partition {tp.partition}"
            )
        if not self._alert_replays.admit(tp.partition, transition.identity):
            metrics.ALERT_REPLAYS_SKIPPED.inc()
            return
        self._alerts.add(record.offset, transition)

    def _take_letter(self, tp: TopicPartition, record: Any) -> None:
        self._letters.add(tp.partition, record.offset, decode_deadletter(record.value))

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
        async with self._lock:
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
        if table in _PARTITIONED:
            await asyncio.to_thread(self._insert_by_partition, data)
        else:
            await asyncio.to_thread(self.store.insert, table, columns, names)
        if table == "rollups":
            await self._tell_stored(_stored_windows(dict(zip(names, columns, strict=True))), [])
        elif table == "spans":
            await self._tell_stored([], sorted(set(columns[names.index("trace_id")])))
        metrics.INSERT_SECONDS.labels(table).observe(time.perf_counter() - started)
        metrics.ROWS_INSERTED.labels(table).inc(len(columns[0]))

    def _insert_by_partition(self, data: TableColumns) -> None:
        """Insert ``data`` one table partition at a time (:func:`partition_parts`); once past what was
        stored at the resume, a source partition's rows are no longer looked up."""
        table, columns, names = data
        key = _PARTITIONED[table]
        stored = self._part_stored.get(table, {})
        for part in partition_parts(data, key, stored):
            self.store.insert(*part)
            if table == "rollups":  # each month into the tiers right after its insert (storage/tiers.py)
                self._tiers.copy(dict(zip(part[2], part[1], strict=True)))
        if stored:
            source = _integers(columns[names.index("src_partition")])
            offset = _integers(columns[names.index(key.offset)])
            for partition in [p for p, days in stored.items() if np.any(offset[source == p] >= max(days.values()))]:
                del stored[partition]

    async def _tell_stored(self, windows: list[StoredWindow], traces: list[str]) -> None:
        """Tell the query layer which window cells and traces an insert changed (their answers go)."""
        if self.config.on_stored is None:
            return
        try:
            await self.config.on_stored(windows, traces)
        except Exception:
            log.exception("cannot tell the query layer of %d stored windows and %d traces", len(windows), len(traces))

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
        stored, by_part = await asyncio.to_thread(self._stored_positions)
        if foreign := await _foreign_partitions(consumer, assigned, stored):
            # The sink refuses where the notifier starts the partition over: its positions are the
            # rows it stored, which it cannot forget without deleting data, and reading the new log
            # from its start would mix two topics' rows in one store. Left paused: resuming after
            # offsets of another topic would pass over records never stored. run() raises this; the
            # records wait in Kafka until the setup is fixed.
            self._foreign = ForeignStoreError(
                f"the store holds records of other topics: {'; '.join(foreign)}. The topics were recreated, "
                "the topic prefix changed or the store belongs to another Kafka cluster: use a store (data dir "
                "or ClickHouse database) of its own for these topics, or the topics it was filled from"
            )
            return
        topics = self.config.topics
        partitioned = {
            topics.metrics: "points",
            topics.spans: "spans",
            topics.logs: "logs",
            topics.alerts: "alert_history",
            topics.rollups: "rollups",
        }
        replays = {topics.rollups: self._rollup_replays, topics.alerts: self._alert_replays}
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            position = None
            if tp.topic in partitioned:
                position = await self._resume_by_partition(consumer, tp, offset, partitioned[tp.topic], by_part)
            elif offset is not None:
                consumer.seek(tp, offset + 1)
            self._consumed.pop(tp, None)
            if tp.topic in replays:
                table = partitioned[tp.topic]
                frontier = (
                    None if position is None else await asyncio.to_thread(self._frontier, table, tp.partition, position)
                )
                replays[tp.topic].reset(tp.partition, frontier)
            if tp.topic == topics.rollups:
                months = by_part.get("rollups", {}).get(tp.partition, {})
                await asyncio.to_thread(self._tiers.resume, tp.partition, dict(months))
        consumer.resume(*assigned)
        log.info("sink assigned %d partitions, resuming after stored offsets", len(assigned))

    async def _resume_by_partition(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        offset: int | None,
        table: str,
        by_part: dict[str, dict[int, dict[int, int]]],
    ) -> int | None:
        """Seek a partition of a partitioned table's topic to the group's commit (made after the last
        complete flush), never after the highest offset stored, and to the log's start when nothing was
        committed (None: the position returned); the rows read again that the store holds are dropped
        at insert."""
        committed = await consumer.committed(tp)
        position = None if committed is None else committed if offset is None else min(committed, offset + 1)
        if position is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, position)
        parts = by_part.get(table, {}).get(tp.partition)
        if parts:
            self._part_stored.setdefault(table, {})[tp.partition] = parts
        else:
            self._part_stored.get(table, {}).pop(tp.partition, None)
        return position

    def _frontier(self, table: str, partition: int, position: int) -> tuple[int, int] | None:
        """The replay frontier of a partition of ``table``'s topic as it was when the sink had read up
        to ``position``: the highest identity stored from records before it (all flushed whole)."""
        [(count, frontier)] = self.store.rows(
            f"SELECT count(), max({_IDENTITY[table]}) FROM {table} "
            "WHERE src_partition = {p:UInt16} AND kafka_offset < {o:UInt64}",
            {"p": partition, "o": position},
        )
        return (int(frontier[0]), int(frontier[1])) if count else None

    def _stored_positions(self) -> tuple[dict[tuple[str, int], int], dict[str, dict[int, dict[int, int]]]]:
        """Highest stored offset per (topic, partition), and per partitioned table the highest stored
        offset per source partition and table partition."""
        topics = self.config.topics
        found: dict[tuple[str, int], int] = {}
        by_part: dict[str, dict[int, dict[int, int]]] = {}
        partitioned = ((topics.metrics, "points"), (topics.spans, "spans"), (topics.logs, "logs"),
                       (topics.alerts, "alert_history"), (topics.rollups, "rollups"))  # fmt: skip
        for topic, table in partitioned:
            key = _PARTITIONED[table]
            for partition, part, offset in self.store.rows(
                f"SELECT src_partition, {key.sql} AS part, max({key.offset}) FROM {table} GROUP BY src_partition, part"
            ):
                by_part.setdefault(table, {}).setdefault(int(partition), {})[int(part)] = int(offset)
                found[(topic, partition)] = max(found.get((topic, partition), 0), int(offset))
        for partition, offset in self.store.rows(
            "SELECT kafka_partition, max(kafka_offset) FROM deadletters GROUP BY kafka_partition"
        ):
            found[(topics.deadletter, partition)] = offset
        return found, by_part
