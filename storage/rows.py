"""Column buffers: Kafka records turned into the column lists of one ClickHouse insert.

Each buffer collects the rows of one table between two flushes, in arrival order (so the highest
stored Kafka offset per partition is always a prefix boundary), and hands them over with
:meth:`take`. Work is per series or per row, never per point in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, islice
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from schemas import DeadLetter, LogRecord, MetricBatch, Redactor, RollupBatch
from schemas.alerts import TransitionRecord
from schemas.sketch import PAGE_SLOTS
from schemas.span_envelope import redact_maps, redact_texts
from schemas.spans import SpanArrays

__all__ = [
    "AlertHistoryColumns",
    "DeadLetterColumns",
    "LogColumns",
    "PointColumns",
    "RollupColumns",
    "SpanColumns",
    "TableColumns",
    "histogram_pages",
    "utc_months",
]

TableColumns = tuple[str, list[Any], list[str]]  # (table, columns, column names)


class PointColumns:
    """Raw points of ``metrics`` records -> table ``points``, as Arrow arrays (inserted in Arrow
    format, storage/client.py). Each series is one run: its service, name, kind and labels are kept
    once and expanded by numpy as dictionary codes, so nothing is per point in Python, here or in the
    insert. (Given as Python lists, clickhouse-connect's column writer looped per row over the
    LowCardinality, Map and Enum columns: ~30 % of the API process's CPU at 400k points/s.)"""

    names: ClassVar[list[str]] = [
        "service", "name", "kind", "labels", "ts", "value", "weight", "src_partition", "src_offset",
    ]  # fmt: skip

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._runs: list[tuple[str, str, str, dict[str, str]]] = []  # per series: service, name, kind, labels
        self._sizes: list[int] = []  # points per series
        self._ts: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []
        self._src: list[tuple[int, int, int]] = []  # (partition, offset, points)
        self.rows = 0

    def add(self, partition: int, offset: int, batch: MetricBatch) -> None:
        n_batch = 0
        for series in batch.series:
            n = len(series.values)
            self._runs.append((batch.service, series.name, series.kind.value, series.labels))
            self._sizes.append(n)
            self._ts.append(series.ts)
            self._values.append(series.values)
            self._weights.append(np.ones(n, dtype=np.uint32) if series.weights is None else series.weights)
            n_batch += n
        self._src.append((partition, offset, n_batch))
        self.rows += n_batch

    def take(self) -> TableColumns:
        sizes = np.array(self._sizes, dtype=np.int64)
        services, names, kinds, labels = zip(*self._runs, strict=True)
        src_partitions, src_offsets, src_sizes = zip(*self._src, strict=True)
        partitions = np.repeat(np.array(src_partitions, dtype=np.uint16), src_sizes)
        offsets = np.repeat(np.array(src_offsets, dtype=np.uint64), src_sizes)
        columns = [
            _runs_of_text(services, sizes),
            _runs_of_text(names, sizes),
            _runs_of_text(kinds, sizes),
            _runs_of_labels(labels, sizes),
            pa.array(np.concatenate(self._ts), type=pa.timestamp("ms", tz="UTC")),
            pa.array(np.concatenate(self._values)),
            pa.array(np.concatenate(self._weights).astype(np.uint32)),
            pa.array(partitions),
            pa.array(offsets),
        ]
        self._reset()
        return "points", columns, self.names


def _codes(texts: Iterable[str], index: dict[str, int]) -> np.ndarray:
    """Each text's code in ``index`` (new texts added in order of appearance)."""
    return np.array([index.setdefault(text, len(index)) for text in texts], dtype=np.int32)


def _runs_of_text(texts: Sequence[str], sizes: np.ndarray) -> pa.DictionaryArray:
    """``texts[i]`` repeated ``sizes[i]`` times, dictionary-encoded."""
    index: dict[str, int] = {}
    codes = np.repeat(_codes(texts, index), sizes)
    return pa.DictionaryArray.from_arrays(codes, pa.array(list(index), type=pa.string()))


def _runs_of_labels(labels: Sequence[dict[str, str]], sizes: np.ndarray) -> pa.MapArray:
    """``labels[i]`` repeated ``sizes[i]`` times as a map column, its keys and values dictionary-encoded."""
    keys: dict[str, int] = {}
    texts: dict[str, int] = {}
    key_codes = np.concatenate([np.tile(_codes(one, keys), n) for one, n in zip(labels, sizes, strict=True)])
    text_codes = np.concatenate([np.tile(_codes(one.values(), texts), n) for one, n in zip(labels, sizes, strict=True)])
    per_row = np.repeat(np.array([len(one) for one in labels], dtype=np.int64), sizes)
    bounds = np.zeros(len(per_row) + 1, dtype=np.int32)
    np.cumsum(per_row, out=bounds[1:])
    return pa.MapArray.from_arrays(
        pa.array(bounds),
        pa.DictionaryArray.from_arrays(key_codes, pa.array(list(keys), type=pa.string())),
        pa.DictionaryArray.from_arrays(text_codes, pa.array(list(texts), type=pa.string())),
    )


class _RowColumns:
    """Rows appended one at a time (rollups, dead letters: few, wide rows)."""

    table = ""
    names: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self._columns: list[list[Any]] = [[] for _ in self.names]
        self.rows = 0

    def _append(self, values: tuple[Any, ...]) -> None:
        for column, value in zip(self._columns, values, strict=True):
            column.append(value)
        self.rows += 1

    def take(self) -> TableColumns:
        columns, self._columns, self.rows = self._columns, [[] for _ in self.names], 0
        return self.table, columns, self.names


class RollupColumns(_RowColumns):
    """Rows of ``rollups`` records -> table ``rollups``."""

    table = "rollups"
    names: ClassVar[list[str]] = [
        "name", "service", "kind", "labels", "window_start", "window_ms", "count", "sum", "min", "max",
        "pages", "page_counts", "late", "src_partition", "src_tick", "src_chunk", "kafka_offset",
    ]  # fmt: skip

    def add(self, kafka_offset: int, batch: RollupBatch) -> None:
        for r in batch.rows:
            pages, page_counts = histogram_pages(r.keys, r.counts)
            self._append((
                r.name, r.service, r.kind.value, r.labels, r.window_start_ms, r.window_ms, r.count, r.sum,
                r.min, r.max, pages, page_counts, r.late, batch.src_partition, batch.tick_offset, batch.chunk,
                kafka_offset,
            ))  # fmt: skip


def utc_months(ms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``toYYYYMM`` of epoch milliseconds (UTC): the month partition of the tables partitioned by month."""
    months = ms.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    result: npt.NDArray[np.int64] = (1970 + months // 12) * 100 + months % 12 + 1
    return result


def histogram_pages(keys: npt.NDArray[np.int32], counts: npt.NDArray[np.int64]) -> tuple[list[int], list[list[int]]]:
    """A histogram (increasing keys, counts) as storage pages: the numbers of the non-empty pages
    and, per page, its dense slot counts up to the last non-zero slot (page ``p`` holds keys
    ``[p * PAGE_SLOTS, (p + 1) * PAGE_SLOTS)``, slot ``key - p * PAGE_SLOTS``)."""
    if not len(keys):
        return [], []
    page = keys.astype(np.int64) // PAGE_SLOTS
    slot = keys - page * PAGE_SLOTS
    starts = np.flatnonzero(np.r_[True, page[1:] != page[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    dense = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        slots = np.zeros(int(slot[end - 1]) + 1, dtype=np.uint32)
        slots[slot[start:end]] = counts[start:end]
        dense.append(slots.tolist())
    return page[starts].tolist(), dense


class DeadLetterColumns(_RowColumns):
    """Records of the ``deadletter`` topic -> table ``deadletters``."""

    table = "deadletters"
    names: ClassVar[list[str]] = [
        "source_topic", "source_partition", "source_offset", "stage", "reason", "payload", "at",
        "kafka_partition", "kafka_offset",
    ]  # fmt: skip

    def add(self, kafka_partition: int, kafka_offset: int, letter: DeadLetter) -> None:
        self._append((
            letter.source_topic, letter.source_partition, letter.source_offset, letter.stage, letter.reason,
            letter.payload, letter.at_ms, kafka_partition, kafka_offset,
        ))  # fmt: skip


class AlertHistoryColumns(_RowColumns):
    """Transitions of ``alerts`` records -> table ``alert_history``, one row each (the record was
    validated field by field when decoded, so no row can fail the insert)."""

    table = "alert_history"
    names: ClassVar[list[str]] = [
        "at", "rule", "fingerprint", "labels", "group", "severity", "state", "previous", "value", "annotations",
        "active_at", "fired_at", "resolved_at", "channels", "src_partition", "tick_offset", "seq", "kafka_offset",
    ]  # fmt: skip

    def add(self, kafka_offset: int, t: TransitionRecord) -> None:
        self._append((
            t.at_ms, t.rule, t.fingerprint, t.labels, t.group, t.severity, t.state.value, t.previous.value, t.value,
            t.annotations, t.active_at_ms, t.fired_at_ms, t.resolved_at_ms, list(t.channels), t.src_partition,
            t.tick_offset, t.seq, kafka_offset,
        ))  # fmt: skip


class SpanColumns:
    """Spans of ``spans`` records -> table ``spans``, redacted on the way: tag values, the status
    message and span logs (events) pass through the :class:`~schemas.Redactor`, each distinct text
    once per record (:func:`~schemas.span_envelope.redact_maps`). A record's columns are appended
    whole: no work per span but the duration and the redaction's lookups."""

    names: ClassVar[list[str]] = [
        "trace_id", "span_id", "parent_span_id", "service", "operation", "kind", "status", "status_message",
        "start", "duration_ns", "tags", "events.ts", "events.message", "events.level", "events.attributes",
        "src_partition", "src_offset",
    ]  # fmt: skip

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()
        self._columns: list[list[Any]] = [[] for _ in self.names]
        self.rows = 0

    def add(self, partition: int, offset: int, spans: SpanArrays) -> None:
        (trace, span_id, parent, service, operation, kind, status, message, start, duration, tags,
         event_ts, event_message, event_level, event_attributes, partitions, offsets) = self._columns  # fmt: skip
        redactor = self.redactor
        trace.extend(spans.trace_id)
        span_id.extend(spans.span_id)
        parent.extend(spans.parent_span_id)
        service.extend(spans.service)
        operation.extend(spans.operation)
        kind.extend(spans.kind)
        status.extend(spans.status)
        message.extend(redact_texts(spans.status_message, redactor))
        start.extend(spans.start_ns)  # DateTime64(9) takes epoch-ns ints
        duration.extend([e - s for s, e in zip(spans.start_ns, spans.end_ns, strict=True)])
        tags.extend(redact_maps(spans.tags, redactor))
        event_ts.extend(spans.event_ts)
        event_level.extend(spans.event_level)
        if any(spans.event_message):
            event_message.extend(_regroup(redact_texts(list(chain.from_iterable(spans.event_message)), redactor),
                                          spans.event_message))  # fmt: skip
            flat = list(chain.from_iterable(spans.event_attributes))
            event_attributes.extend(_regroup(redact_maps(flat, redactor), spans.event_attributes))
        else:
            event_message.extend(spans.event_message)
            event_attributes.extend(spans.event_attributes)
        n = len(spans)
        partitions.extend([partition] * n)
        offsets.extend([offset] * n)
        self.rows += n

    def take(self) -> TableColumns:
        columns, self._columns, self.rows = self._columns, [[] for _ in self.names], 0
        return "spans", columns, self.names


def _regroup(flat: list[Any], shape: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``flat`` cut into tuples as long as those of ``shape`` (see :class:`~schemas.SpanArrays`)."""
    items = iter(flat)
    return [tuple(islice(items, len(group))) for group in shape]


class LogColumns:
    """Records of ``logs`` records -> table ``logs``, message and attributes redacted on the way.
    ``src_index`` is a record's place in its Kafka record, so the Kafka position names each row."""

    names: ClassVar[list[str]] = [
        "ts", "service", "level", "message", "attributes", "trace_id", "span_id",
        "src_partition", "src_offset", "src_index",
    ]  # fmt: skip

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()
        self._columns: list[list[Any]] = [[] for _ in self.names]
        self.rows = 0

    def add(self, partition: int, offset: int, records: list[LogRecord]) -> None:
        ts, service, level, message, attributes, trace, span, partitions, offsets, indexes = self._columns
        redact_text, redact_attributes = self.redactor.text, self.redactor.attributes
        for record in records:
            ts.append(record.ts_ns)
            service.append(record.service)
            level.append(record.level.value)
            message.append(redact_text(record.message))
            attributes.append(redact_attributes(record.attributes) if record.attributes else {})
            trace.append(record.trace_id or "")
            span.append(record.span_id or "")
        partitions.extend([partition] * len(records))
        offsets.extend([offset] * len(records))
        indexes.extend(range(len(records)))
        self.rows += len(records)

    def take(self) -> TableColumns:
        columns, self._columns, self.rows = self._columns, [[] for _ in self.names], 0
        return "logs", columns, self.names
