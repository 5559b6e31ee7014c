"""The sink on the real Kafka and a real chDB store: every record stored exactly once across a
restart, re-emitted rollups skipped, unreadable records passed over, dead letters kept."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from alerting.rules import State
from perfpulse.topics import ensure_topics
from schemas import (
    DeadLetter,
    MetricBatch,
    MetricKind,
    RecordType,
    Redactor,
    RollupBatch,
    SeriesPoints,
    SpanEvent,
    Topics,
    encode_deadletter,
    encode_logs,
    encode_metric_batch,
    encode_rollups,
    encode_spans,
    encode_tick,
    type_headers,
)
from schemas.events import StoredWindow
from schemas.redact import DEFAULT_SENSITIVE_KEYS
from storage import Store
from storage.sink import ForeignStoreError, PartitionKey, Sink, SinkConfig, partition_parts
from tests.storage.builders import BASE_MS, nearest_month_end, window_row
from tests.storage.telemetry import log, span

pytestmark = pytest.mark.integration


def batch(service: str, values: list[float]) -> bytes:
    ts = np.arange(BASE_MS, BASE_MS + len(values), dtype=np.int64)
    points = SeriesPoints("lat", MetricKind.DISTRIBUTION, {"route": "/a"}, ts, np.asarray(values, dtype=np.float64))
    return encode_metric_batch(MetricBatch(service, [points]))


def rollups(partition: int, tick: int, chunk: int, *names: str) -> bytes:
    return encode_rollups(RollupBatch(partition, tick, chunk, [window_row([1.0, 2.0], name=n) for n in names]))


def letter(offset: int) -> bytes:
    return encode_deadletter(DeadLetter("x.metrics", 1, offset, "stream", f"bad record {offset}", b"\x00raw", BASE_MS))


async def produce(
    bootstrap: str, records: Sequence[tuple[str, int, bytes] | tuple[str, int, bytes, RecordType]]
) -> None:
    """Send (topic, partition, value[, type header]) records in order and wait for Kafka's
    acknowledgement; without a type, as records written before the type header existed."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, partition, value, *kind in records:
            headers = type_headers(kind[0]) if kind else None
            await producer.send_and_wait(topic, value, partition=partition, headers=headers)
    finally:
        await producer.stop()


class ObservedSink(Sink):
    """The sink, telling the test when its first partition assignment has been resumed."""

    def __init__(self, config: SinkConfig, store: Store) -> None:
        super().__init__(config, store)
        self.resumed = asyncio.Event()

    async def resume(self, assigned: list[TopicPartition]) -> None:
        await super().resume(assigned)
        self.resumed.set()


async def run_sink_until(
    config: SinkConfig,
    store: Store,
    reached: Callable[[], bool],
    *,
    once_assigned: Callable[[], Awaitable[None]] | None = None,
    timeout_s: float = 40.0,
    settle_s: float = 1.5,
    sink_type: type[ObservedSink] = ObservedSink,
) -> None:
    """Run a fresh sink until ``reached()`` holds, keep it running ``settle_s`` more (time for any
    duplicate to show up), then stop it. ``once_assigned`` runs when the sink has its partitions."""
    stop = asyncio.Event()
    sink = sink_type(config, store)
    task = asyncio.create_task(sink.run(stop))
    deadline = time.monotonic() + timeout_s
    try:
        if once_assigned is not None:
            await asyncio.wait_for(sink.resumed.wait(), timeout_s)
            await once_assigned()
        while not await asyncio.to_thread(reached):
            assert not task.done(), f"the sink stopped: {task.exception()!r}"
            assert time.monotonic() < deadline, "timed out waiting for the sink to store the records"
            await asyncio.sleep(0.2)
        await asyncio.sleep(settle_s)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def counts(store: Store) -> tuple[int, int, int]:
    [(points,)] = store.rows("SELECT count() FROM points")
    [(rollup_rows,)] = store.rows("SELECT count() FROM rollups")
    [(letters,)] = store.rows("SELECT count() FROM deadletters")
    return int(points), int(rollup_rows), int(letters)


def config(bootstrap: str, topics: Topics) -> SinkConfig:
    """A sink config with a consumer group of its own."""
    return SinkConfig(bootstrap=bootstrap, topics=topics, group=f"sink-{uuid.uuid4().hex[:8]}")


class BusyStore(Store):
    """The real store, answering reads ``delay_s`` late, as a loaded ClickHouse server does."""

    def __init__(self, url: str, delay_s: float) -> None:
        super().__init__(url, pool_size=2)
        self.delay_s = delay_s

    def rows(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        time.sleep(self.delay_s)
        return super().rows(sql, parameters, settings)


async def committed(bootstrap: str, group: str, partitions: list[TopicPartition]) -> list[int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return [await consumer.committed(tp) for tp in partitions]
    finally:
        await consumer.stop()


async def rewind_commits(bootstrap: str, topics: Topics, group: str) -> None:
    """Commit offset 0 everywhere for ``group``: as if the sink died after its inserts, before its commits."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in (topics.metrics, topics.rollups, topics.deadletter) for p in range(4)
        ]
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
    finally:
        await consumer.stop()


FIRST_RUN = (9, 5, 1)  # points, rollup rows, dead letters


async def produce_first_run(bootstrap: str, topics: Topics) -> None:
    await produce(
        bootstrap,
        [
            (topics.metrics, 0, batch("gateway", [1.0, 2.0, 3.0])),
            (topics.metrics, 0, encode_tick(BASE_MS)),  # ticks are not points
            (topics.metrics, 0, b"\x00 not a record"),  # unreadable: passed over, does not block the partition
            (topics.metrics, 0, batch("gateway", [4.0, 5.0])),
            (topics.metrics, 1, batch("frontend", [6.0, 7.0, 8.0, 9.0])),
            (topics.rollups, 0, rollups(0, 10, 0, "r1")),
            (topics.rollups, 0, rollups(0, 10, 1, "r2", "r3")),
            (topics.rollups, 0, rollups(0, 10, 0, "r1")),  # a re-emission within one run
            (topics.rollups, 0, rollups(0, 12, 0, "r4")),
            (topics.rollups, 2, rollups(2, 5, 0, "r5")),
            (topics.deadletter, 0, letter(1)),
        ],
    )


async def test_each_record_is_stored_once_and_in_run_re_emissions_are_skipped(
    kafka_bootstrap: str, topics: Topics, store: Store
) -> None:
    await produce_first_run(kafka_bootstrap, topics)
    await run_sink_until(config(kafka_bootstrap, topics), store, lambda: counts(store) >= FIRST_RUN)
    assert counts(store) == FIRST_RUN
    per_record = store.rows("SELECT src_partition, src_offset, count() FROM points GROUP BY 1, 2 ORDER BY 1, 2")
    assert per_record == [(0, 0, 3), (0, 3, 2), (1, 0, 4)]
    points = store.rows("SELECT service, name, labels, toUnixTimestamp64Milli(ts), value FROM points ORDER BY value")
    assert points[0] == ("gateway", "lat", {"route": "/a"}, BASE_MS, 1.0)
    assert [p[4] for p in points] == [float(v) for v in range(1, 10)]
    stored = store.rows("SELECT name, src_partition, src_tick, src_chunk, kafka_offset FROM rollups ORDER BY name")
    assert stored == [
        ("r1", 0, 10, 0, 0),
        ("r2", 0, 10, 1, 1),
        ("r3", 0, 10, 1, 1),
        ("r4", 0, 12, 0, 3),
        ("r5", 2, 5, 0, 0),
    ]
    letters = store.rows(
        "SELECT source_topic, source_offset, stage, reason, hex(payload), kafka_partition, kafka_offset "
        "FROM deadletters"
    )
    assert letters == [("x.metrics", 1, "stream", "bad record 1", "00726177", 0, 0)]


def partitions_3(topics: Topics) -> list[TopicPartition]:
    return [TopicPartition(topic, 3) for topic in (topics.metrics, topics.rollups, topics.deadletter)]


async def produce_to_partitions_3(bootstrap: str, topics: Topics) -> None:
    await produce(
        bootstrap,
        [
            (topics.metrics, 3, batch("gateway", [1.0, 2.0])),
            (topics.rollups, 3, rollups(3, 1, 0, "r1")),
            (topics.deadletter, 3, letter(1)),
        ],
    )


async def test_a_restart_in_the_same_group_stores_nothing_again(
    kafka_bootstrap: str, topics: Topics, store: Store
) -> None:
    sink_config = config(kafka_bootstrap, topics)
    await run_sink_until(
        sink_config,
        store,
        lambda: counts(store) >= (2, 1, 1),
        once_assigned=lambda: produce_to_partitions_3(kafka_bootstrap, topics),
    )
    assert await committed(kafka_bootstrap, sink_config.group, partitions_3(topics)) == [1, 1, 1]
    await run_sink_until(sink_config, store, lambda: True, settle_s=4.0)
    assert counts(store) == (2, 1, 1)


async def test_records_taken_while_the_sink_resumes_are_committed(
    kafka_bootstrap: str, topics: Topics, store: Store, store_url: str
) -> None:
    await produce_to_partitions_3(kafka_bootstrap, topics)
    sink_config = config(kafka_bootstrap, topics)
    # Reads 50 ms late: resume (3 reads) ends after the first fetch and before the first flush (0.25 s).
    busy = BusyStore(store_url, delay_s=0.05)
    try:
        await run_sink_until(sink_config, busy, lambda: counts(store) >= (2, 1, 1))
    finally:
        busy.close()
    assert counts(store) == (2, 1, 1)
    assert await committed(kafka_bootstrap, sink_config.group, partitions_3(topics)) == [1, 1, 1]


async def test_a_sink_restarted_after_a_crash_before_its_commit_stores_nothing_twice(
    kafka_bootstrap: str, topics: Topics, store: Store, store_url: str
) -> None:
    await produce_first_run(kafka_bootstrap, topics)
    sink_config = config(kafka_bootstrap, topics)
    await run_sink_until(sink_config, store, lambda: counts(store) >= FIRST_RUN)
    await rewind_commits(kafka_bootstrap, topics, sink_config.group)
    await produce(
        kafka_bootstrap,
        [
            (topics.metrics, 0, batch("gateway", [10.0] * 5)),
            (topics.rollups, 0, rollups(0, 10, 1, "r2", "r3")),  # re-emissions after a stream restart:
            (topics.rollups, 0, rollups(0, 11, 0, "late-replay")),  # at or below the stored (12, 0) of partition 0
            (topics.rollups, 0, rollups(0, 12, 0, "r4")),
            (topics.rollups, 2, rollups(2, 5, 0, "r5")),
            (topics.rollups, 0, rollups(0, 12, 1, "r6")),  # new emissions
            (topics.rollups, 0, rollups(0, 13, 0, "r7")),
            (topics.rollups, 2, rollups(2, 6, 0, "r8")),
            (topics.deadletter, 1, letter(2)),
        ],
    )
    busy = BusyStore(store_url, delay_s=0.5)  # resume ends after the first fetch and the first flush
    try:
        await run_sink_until(sink_config, busy, lambda: counts(store) >= (14, 8, 2), settle_s=3.0)
    finally:
        busy.close()
    per_record = store.rows("SELECT src_partition, src_offset, count() FROM points GROUP BY 1, 2 ORDER BY 1, 2")
    assert per_record == [(0, 0, 3), (0, 3, 2), (0, 4, 5), (1, 0, 4)]
    stored = store.rows("SELECT name FROM rollups ORDER BY name")
    assert stored == [("r1",), ("r2",), ("r3",), ("r4",), ("r5",), ("r6",), ("r7",), ("r8",)]
    assert counts(store) == (14, 8, 2)


# Spans and logs: stored once each, redacted, ticks on the spans topic passed over.


def spans_record(trace: int, count: int, at_ms: float = 0) -> bytes:
    """``count`` spans of one trace; the first carries secrets (a sensitive tag, a token in a span log)."""
    spans = [span(trace, i + 1, i or None, at_ms + i, 10.0 - i, tags={"route": "/a"}) for i in range(count)]
    spans[0].tags["session"] = "s3cr3t"
    spans[0].events = [SpanEvent(spans[0].start_ns, "retry with token=abcdefgh1234", "warn", {"password": "x"})]
    return encode_spans(spans)


def logs_record(count: int, at_ms: float = 0) -> bytes:
    return encode_logs(
        [log(at_ms + i, f"line {i} password=hunter2", attributes={"session": "s"}) for i in range(count)]
    )


def telemetry_counts(store: Store) -> tuple[int, int]:
    [(spans,)] = store.rows("SELECT count() FROM spans")
    [(logs,)] = store.rows("SELECT count() FROM logs")
    return int(spans), int(logs)


def unreadable(topic: str) -> float:
    return REGISTRY.get_sample_value("perfpulse_sink_unreadable_records_total", {"topic": topic}) or 0.0


async def rewind_telemetry_commits(bootstrap: str, topics: Topics, group: str) -> None:
    """As if the sink died after its inserts, before committing the spans and logs offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in (topics.spans, topics.logs) for p in range(4)]
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
    finally:
        await consumer.stop()


async def test_spans_and_logs_are_stored_once_redacted_and_ticks_are_passed_over(
    kafka_bootstrap: str, topics: Topics, store: Store, store_url: str
) -> None:
    unreadable_before = unreadable(topics.spans)
    await produce(
        kafka_bootstrap,
        [
            (topics.spans, 0, spans_record(1, 3)),
            (topics.spans, 0, encode_tick(BASE_MS)),  # the stream stage's window tick: not a span
            (topics.spans, 0, b"{not json"),  # unreadable: counted, passed over
            (topics.spans, 0, spans_record(2, 2)),
            (topics.spans, 1, spans_record(3, 1)),
            (topics.spans, 1, encode_tick(BASE_MS)),
            (topics.logs, 0, logs_record(2)),
            (topics.logs, 2, logs_record(1)),
        ],
    )
    sink_config = SinkConfig(
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"sink-{uuid.uuid4().hex[:8]}",
        redactor=Redactor.of([*DEFAULT_SENSITIVE_KEYS, "session"]),
    )
    await run_sink_until(sink_config, store, lambda: telemetry_counts(store) >= (6, 3))
    assert telemetry_counts(store) == (6, 3)
    assert unreadable(topics.spans) - unreadable_before == 1
    positions = store.rows("SELECT src_partition, src_offset, count() FROM spans GROUP BY 1, 2 ORDER BY 1, 2")
    assert positions == [(0, 0, 3), (0, 3, 2), (1, 0, 1)]
    [(tags, messages, attributes)] = store.rows(
        "SELECT tags, events.message, events.attributes FROM spans WHERE trace_id = {t:String} AND parent_span_id = ''",
        {"t": f"{1:032x}"},
    )
    assert tags == {"route": "/a", "session": "[REDACTED]"}
    assert (messages, attributes) == (["retry with token=[REDACTED]"], [{"password": "[REDACTED]"}])
    stored_logs = store.rows(
        "SELECT message, attributes, src_partition, src_offset, src_index FROM logs ORDER BY ts, src_partition"
    )
    assert stored_logs[0] == ("line 0 password=[REDACTED]", {"session": "[REDACTED]"}, 0, 0, 0)
    assert sorted(row[2:] for row in stored_logs) == [(0, 0, 0), (0, 0, 1), (2, 0, 0)]

    await rewind_telemetry_commits(kafka_bootstrap, topics, sink_config.group)
    await produce(kafka_bootstrap, [(topics.spans, 0, spans_record(4, 2)), (topics.logs, 2, logs_record(4))])
    busy = BusyStore(store_url, delay_s=0.5)  # resume ends after the first fetch and the first flush
    try:
        await run_sink_until(sink_config, busy, lambda: telemetry_counts(store) >= (8, 7), settle_s=3.0)
    finally:
        busy.close()
    assert telemetry_counts(store) == (8, 7)
    [(duplicates,)] = store.rows(
        "SELECT count() FROM (SELECT trace_id, span_id FROM spans GROUP BY 1, 2 HAVING count() > 1)"
    )
    assert duplicates == 0


async def test_a_store_filled_from_other_topics_is_refused_and_nothing_is_passed_over(
    kafka_bootstrap: str, topics: Topics, store: Store
) -> None:
    await produce(kafka_bootstrap, [(topics.metrics, 3, batch("gateway", [float(v)])) for v in range(3)])
    await run_sink_until(config(kafka_bootstrap, topics), store, lambda: counts(store)[0] >= 3)
    recreated = Topics(f"t{uuid.uuid4().hex[:10]}.")  # as after a prefix change or a new cluster
    await ensure_topics(kafka_bootstrap, recreated, partitions=4)
    await produce(kafka_bootstrap, [(recreated.metrics, 3, batch("gateway", [7.0]))])

    sink = Sink(config(kafka_bootstrap, recreated), store)
    with pytest.raises(ForeignStoreError, match=r"metrics\[3\] stored up to offset 2, its log ends at 1"):
        await asyncio.wait_for(sink.run(asyncio.Event()), 40)
    assert counts(store)[0] == 3, "nothing of the new topic is stored past the old offsets"


async def test_records_are_taken_by_the_type_their_header_names(
    kafka_bootstrap: str, topics: Topics, store: Store
) -> None:
    unreadable_before = unreadable(topics.spans)
    await produce(
        kafka_bootstrap,
        [
            (topics.spans, 0, spans_record(1, 3), RecordType.SPANS),
            (topics.spans, 0, encode_tick(BASE_MS), RecordType.TICK),
            (topics.spans, 0, spans_record(2, 2), RecordType.TICK),  # the header decides: passed over
            (topics.spans, 0, logs_record(1), RecordType.LOGS),  # not a type the spans topic carries
            (topics.spans, 0, spans_record(3, 1), RecordType.METRICS),  # declared metrics: unreadable as such
            (topics.spans, 1, spans_record(4, 1), RecordType.SPANS),
        ],
    )
    await run_sink_until(config(kafka_bootstrap, topics), store, lambda: telemetry_counts(store)[0] >= 4)
    assert telemetry_counts(store) == (4, 0)
    assert unreadable(topics.spans) - unreadable_before == 2


async def test_the_query_layer_is_told_which_windows_were_stored_and_its_failure_is_not_the_sinks(
    kafka_bootstrap: str, topics: Topics, store: Store
) -> None:
    told: list[list[StoredWindow]] = []

    async def on_stored(windows: list[StoredWindow], traces: list[str]) -> None:
        assert traces == []
        told.append(windows)
        raise ConnectionError("Redis is down")  # logged; the rows are stored all the same

    corrected = window_row([5.0], name="r1", late=True, window_start_ms=BASE_MS - 1_000)
    await produce(
        kafka_bootstrap,
        [
            (topics.rollups, 0, rollups(0, 10, 0, "r1", "r2"), RecordType.ROLLUPS),
            (topics.rollups, 0, encode_rollups(RollupBatch(0, 11, 0, [corrected])), RecordType.ROLLUPS),
        ],
    )
    with_hook = replace(config(kafka_bootstrap, topics), on_stored=on_stored)
    await run_sink_until(with_hook, store, lambda: counts(store)[1] >= 3)
    cells = sorted({w for windows in told for w in windows}, key=lambda w: (w.metric, w.start_ms))
    assert cells == [
        StoredWindow("r1", "gateway", BASE_MS - 1_000, 1_000, True),
        StoredWindow("r1", "gateway", BASE_MS, 1_000, False),
        StoredWindow("r2", "gateway", BASE_MS, 1_000, False),
    ]


async def test_the_query_layer_is_told_which_traces_got_spans(
    kafka_bootstrap: str, topics: Topics, store: Store
) -> None:
    told: list[tuple[list[StoredWindow], list[str]]] = []

    async def on_stored(windows: list[StoredWindow], traces: list[str]) -> None:
        told.append((windows, traces))

    await produce(
        kafka_bootstrap,
        [
            (topics.spans, 0, spans_record(7, 3), RecordType.SPANS),
            (topics.spans, 1, spans_record(8, 2), RecordType.SPANS),
        ],
    )
    with_hook = replace(config(kafka_bootstrap, topics), on_stored=on_stored)
    await run_sink_until(with_hook, store, lambda: telemetry_counts(store)[0] >= 5)
    [(trace_7,), (trace_8,)] = store.rows("SELECT DISTINCT trace_id FROM spans ORDER BY trace_id")
    assert all(windows == [] for windows, _ in told)
    assert sorted(t for _, traces in told for t in traces) == sorted([trace_7, trace_8])  # each trace once


async def test_records_are_decoded_off_the_event_loop(kafka_bootstrap: str, topics: Topics, store: Store) -> None:
    """A record of 500 spans takes milliseconds to decode; on the event loop, which the sink shares
    with the API, every request would wait for it."""
    loop_thread = threading.get_ident()
    takers: set[int] = set()

    class WatchedSink(ObservedSink):
        def _take_all(self, batches: Mapping[TopicPartition, list[Any]]) -> None:
            takers.add(threading.get_ident())
            super()._take_all(batches)

    await produce(kafka_bootstrap, [(topics.spans, 0, spans_record(7, 10), RecordType.SPANS)])
    await run_sink_until(
        config(kafka_bootstrap, topics), store, lambda: telemetry_counts(store)[0] >= 10, sink_type=WatchedSink
    )
    assert takers and loop_thread not in takers


DAY_MS = 86_400_000


def test_partition_parts_inserts_a_day_at_a_time_cut_between_records_and_drops_what_the_store_holds() -> None:
    days = PartitionKey("ts", "toUInt32(toDate(ts))", lambda ms: ms // DAY_MS)
    ts = [DAY_MS - 1, DAY_MS + 1, DAY_MS - 2, DAY_MS + 2, DAY_MS + 3, DAY_MS - 3]
    sources = [0, 0, 0, 0, 0, 1]
    offsets = [5, 5, 6, 7, 7, 2]  # records: 0@5 (two days), 0@6, 0@7 (two rows of one day), 1@2
    data = ("points", [ts, np.asarray(sources, dtype=np.uint16), np.asarray(offsets, dtype=np.uint64)],
            ["ts", "src_partition", "src_offset"])  # fmt: skip

    def rows(parts: list[Any]) -> list[list[tuple[int, int, int]]]:
        return [list(zip(c[0], c[1].tolist(), c[2].tolist(), strict=True)) for _, c, _ in parts]

    assert rows(partition_parts(data, days, {})) == [
        [(DAY_MS - 1, 0, 5), (DAY_MS - 2, 0, 6), (DAY_MS - 3, 1, 2)],
        [(DAY_MS + 1, 0, 5), (DAY_MS + 2, 0, 7), (DAY_MS + 3, 0, 7)],
    ]
    # At most two rows a part, never splitting the two rows of record 0@7.
    assert rows(partition_parts(data, days, {}, max_rows=2)) == [
        [(DAY_MS - 1, 0, 5), (DAY_MS - 2, 0, 6)],
        [(DAY_MS - 3, 1, 2)],
        [(DAY_MS + 1, 0, 5)],
        [(DAY_MS + 2, 0, 7), (DAY_MS + 3, 0, 7)],
    ]
    # The store holds day 0 of partition 0 up to offset 6 (a part of the last flush), day 1 up to 4.
    assert rows(partition_parts(data, days, {0: {0: 6, 1: 4}})) == [
        [(DAY_MS - 3, 1, 2)],
        [(DAY_MS + 1, 0, 5), (DAY_MS + 2, 0, 7), (DAY_MS + 3, 0, 7)],
    ]
    one_day = ("points", [ts[:1], sources[:1], offsets[:1]], ["ts", "src_partition", "src_offset"])
    assert partition_parts(one_day, days, {}) == [one_day]  # the usual flush goes as it came


class Killed(Exception):
    """The sink process dies here: the in-process stand-in for SIGKILL between two inserts."""


class KillingStore(Store):
    """The real store; the sink dies at its second insert into ``table`` (nothing of it stored)."""

    def __init__(self, url: str, table: str) -> None:
        super().__init__(url, pool_size=2)
        self.table = table
        self.inserts = 0

    def insert(self, table: str, columns: Sequence[Sequence[Any]], names: Sequence[str]) -> None:
        if table == self.table:
            self.inserts += 1
            if self.inserts == 2:
                raise Killed(f"killed before the second insert into {table}")
        super().insert(table, columns, names)


async def run_sink_until_killed(config: SinkConfig, store_url: str, table: str) -> None:
    """Run a sink on a :class:`KillingStore` until it dies at its second insert into ``table``."""
    killing = KillingStore(store_url, table)
    try:
        with pytest.raises(Killed):
            await asyncio.wait_for(Sink(config, killing).run(asyncio.Event()), 40)
    finally:
        killing.close()


def points_at(service: str, *ts: int) -> bytes:
    points = SeriesPoints(
        "lat", MetricKind.DISTRIBUTION, {}, np.asarray(ts, dtype=np.int64), np.arange(len(ts), dtype=np.float64)
    )
    return encode_metric_batch(MetricBatch(service, [points]))


async def test_a_flush_across_midnight_killed_between_its_day_parts_stores_every_point_once_after_restart(
    kafka_bootstrap: str, topics: Topics, store: Store, store_url: str
) -> None:
    midnight = time.time_ns() // 1_000_000 // DAY_MS * DAY_MS
    records = [
        (0, points_at("a", midnight - 500, midnight + 500)),  # one record, two days
        (0, points_at("b", midnight - 200)),
        (0, points_at("c", midnight + 900)),
        (1, points_at("d", midnight - 100, midnight + 100)),
    ]
    await produce(kafka_bootstrap, [(topics.metrics, p, value) for p, value in records])
    expected = [
        ("a", midnight - 500, 0, 0), ("a", midnight + 500, 0, 0), ("b", midnight - 200, 0, 1),
        ("c", midnight + 900, 0, 2), ("d", midnight - 100, 1, 0), ("d", midnight + 100, 1, 0),
    ]  # fmt: skip
    sink_config = replace(config(kafka_bootstrap, topics), points_flush_s=3.0)  # the four records in one flush
    await run_sink_until_killed(sink_config, store_url, "points")

    def stored() -> list[tuple[str, int, int, int]]:
        rows = store.rows("SELECT service, toUnixTimestamp64Milli(ts), src_partition, src_offset FROM points")
        return sorted((str(s), int(t), int(p), int(o)) for s, t, p, o in rows)

    # Killed between the parts: the day before midnight is stored, below the highest offset stored
    # the next day is missing (resuming after offset 1 of partition 0 would lose a's second point).
    assert stored() == [row for row in expected if row[1] < midnight]
    await run_sink_until(sink_config, store, lambda: len(stored()) >= len(expected), settle_s=2.0)
    assert stored() == sorted(expected)


async def test_a_flush_of_transitions_across_a_month_killed_between_its_parts_stores_each_once_after_restart(
    kafka_bootstrap: str, topics: Topics, store: Store, store_url: str
) -> None:
    from tests.alerting.notify.test_stage import record  # here: that module imports this one

    today = np.datetime64(time.time_ns() // 1_000_000, "ms")
    month = int(today.astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64))  # its first ms
    ats = [month - 2_000, month - 1_000, month + 1_000, month - 500]
    sink_config = replace(config(kafka_bootstrap, topics), alerts_flush_s=3.0)  # records produced together: one flush

    def stored() -> list[tuple[int, int, int]]:
        rows = store.rows("SELECT toUnixTimestamp64Milli(at), tick_offset, kafka_offset FROM alert_history")
        return sorted((int(at), int(tick), int(offset)) for at, tick, offset in rows)

    # A first flush completes and is committed: the resume point.
    await produce(kafka_bootstrap, [(topics.alerts, 0, record(5, 0, State.FIRING, ats[0], ats[0], partition=0))])
    await run_sink_until(sink_config, store, lambda: len(stored()) >= 1)
    transitions = [record(10 + i, 0, State.FIRING, at, at, partition=0) for i, at in enumerate(ats[1:])]
    replay = record(10, 0, State.FIRING, ats[1], ats[1], partition=0)  # a re-emission: skipped
    await produce(kafka_bootstrap, [(topics.alerts, 0, value) for value in [*transitions, replay]])
    await run_sink_until_killed(sink_config, store_url, "alert_history")

    expected = [(ats[0], 5, 0), *((at, 10 + i, 1 + i) for i, at in enumerate(ats[1:]))]
    # The month before is stored, the month's one transition, below the highest offset stored, is not.
    assert stored() == [row for row in expected if row[0] < month]
    await run_sink_until(sink_config, store, lambda: len(stored()) >= len(expected), settle_s=2.0)
    assert stored() == sorted(expected)


async def test_a_flush_of_rollups_across_a_month_killed_between_its_parts_stores_each_once_after_restart(
    kafka_bootstrap: str, topics: Topics, store: Store, store_url: str
) -> None:
    """Window rows of two months in one flush: the sink inserts (and copies into the tiers) a month at
    a time; killed before the later month's insert, the restarted sink stores it, and every tier holds
    each window once, although the earlier month's rows lie below the highest offset stored."""
    end = nearest_month_end(time.time_ns() // 1_000_000)
    starts = [end + 10_000, end - 10_000, end + 20_000]  # offsets 0, 1, 2; the earlier month's in between

    def record(tick: int, start: int) -> bytes:
        row = window_row([1.0, 2.0], window_start_ms=start, window_ms=10_000)
        return encode_rollups(RollupBatch(0, tick, 0, [row]))

    sink_config = replace(config(kafka_bootstrap, topics), rollups_flush_s=3.0)  # the three records in one flush
    await produce(kafka_bootstrap, [(topics.rollups, 0, record(10 + i, start)) for i, start in enumerate(starts)])
    await run_sink_until_killed(sink_config, store_url, "rollups")

    def stored(table: str = "rollups") -> list[tuple[int, int]]:
        rows = store.rows(f"SELECT toUnixTimestamp64Milli(window_start), sum(count) FROM {table} GROUP BY 1")
        return sorted((int(start), int(count)) for start, count in rows)

    assert stored() == [(end - 10_000, 2)]  # the earlier month: the first part; the later one never inserted
    expected = sorted((start, 2) for start in starts)
    await run_sink_until(sink_config, store, lambda: len(stored()) >= len(starts), settle_s=2.0)
    assert stored() == expected
    minutes = sorted({(start // 60_000 * 60_000, 0) for start in starts})
    by_minute = {m: sum(c for s, c in expected if s // 60_000 * 60_000 == m) for m, _ in minutes}
    assert stored("rollups_1m") == sorted(by_minute.items())
    [(total,)] = store.rows("SELECT sum(count) FROM rollups_1h")
    assert total == 6
