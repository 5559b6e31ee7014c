"""Column buffers: Kafka records turned into the column lists of one ClickHouse insert.

Each buffer collects the rows of one table between two flushes, in arrival order (so the highest
stored Kafka offset per partition is always a prefix boundary), and hands them over with
:meth:`take`. Work is per series or per row, never per point in Python.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from schemas import DeadLetter, MetricBatch, RollupBatch

__all__ = ["DeadLetterColumns", "PointColumns", "RollupColumns", "TableColumns"]

TableColumns = tuple[str, list[Any], list[str]]  # (table, columns, column names)


class PointColumns:
    """Raw points of ``metrics`` records -> table ``points``."""

    names: ClassVar[list[str]] = ["service", "name", "kind", "labels", "ts", "value", "src_partition", "src_offset"]

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._text: list[list[Any]] = [[], [], [], []]  # service, name, kind, labels
        self._ts: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._src: list[tuple[int, int, int]] = []  # (partition, offset, points)
        self.rows = 0

    def add(self, partition: int, offset: int, batch: MetricBatch) -> None:
        service, name, kind, labels = self._text
        n_batch = 0
        for series in batch.series:
            n = len(series.values)
            service.extend([batch.service] * n)
            name.extend([series.name] * n)
            kind.extend([series.kind.value] * n)
            labels.extend([series.labels] * n)
            self._ts.append(series.ts)
            self._values.append(series.values)
            n_batch += n
        self._src.append((partition, offset, n_batch))
        self.rows += n_batch

    def take(self) -> TableColumns:
        partitions = np.concatenate([np.full(n, p, dtype=np.uint16) for p, _, n in self._src])
        offsets = np.concatenate([np.full(n, o, dtype=np.uint64) for _, o, n in self._src])
        columns = [
            *self._text,
            np.concatenate(self._ts).tolist(),  # DateTime64 takes epoch-ms ints
            np.concatenate(self._values),
            partitions,
            offsets,
        ]
        self._reset()
        return "points", columns, self.names


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
        "centroid_means", "centroid_weights", "late", "src_partition", "src_tick", "src_chunk", "kafka_offset",
    ]  # fmt: skip

    def add(self, kafka_offset: int, batch: RollupBatch) -> None:
        for r in batch.rows:
            self._append((
                r.name, r.service, r.kind.value, r.labels, r.window_start_ms, r.window_ms, r.count, r.sum,
                r.min, r.max, r.means.tolist(), r.weights.astype(np.uint32).tolist(), r.late, batch.src_partition,
                batch.tick_offset, batch.chunk, kafka_offset,
            ))  # fmt: skip


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
