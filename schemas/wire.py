"""Wire encoding of Kafka records: metric batches, window ticks, rollups and dead letters.

Every record is one orjson object with a ``"type"``. A metric record carries a whole batch in
columns (one entry per series, with parallel ``ts``/``values`` arrays), because per-message cost in
Python decides throughput: a consumer handles a series with a few numpy calls, never a loop per point.

Decoders validate what they read and raise :class:`WireError` with the reason; a consumer sends such
a record to the dead-letter topic and keeps going.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from schemas.checks import check_labels, check_metric_name, check_service
from schemas.limits import Limits

__all__ = [
    "DeadLetter",
    "MetricBatch",
    "MetricKind",
    "RollupBatch",
    "RollupRow",
    "SeriesPoints",
    "Tick",
    "WireError",
    "decode_deadletter",
    "decode_items",
    "decode_metrics_record",
    "decode_rollups",
    "decode_tick",
    "encode_deadletter",
    "encode_metric_batch",
    "encode_rollups",
    "encode_tick",
    "pack_records",
]

WIRE_VERSION = 1
MAX_WEIGHT = 2**32 - 1  # observations one value may stand for (the points table keeps weights as UInt32)
_DEFAULT_LIMITS = Limits()


class WireError(ValueError):
    """A Kafka record that cannot be decoded or fails validation; the message says why."""


class MetricKind(StrEnum):
    """How the values of a metric are read."""

    DISTRIBUTION = "distribution"  # each value is one observation (a latency, a size)
    COUNTER = "counter"  # each value is an increment; rate = sum / seconds
    GAUGE = "gauge"  # each value is a sampled level


@dataclass(slots=True)
class SeriesPoints:
    """The points of one series (service + name + kind + labels) in a batch."""

    name: str
    kind: MetricKind
    labels: dict[str, str]
    ts: npt.NDArray[np.int64]  # epoch milliseconds, one per value
    values: npt.NDArray[np.float64]  # finite
    # Observations each value stands for (1 to MAX_WEIGHT), e.g. an OTLP histogram bucket's count;
    # None: each value counts once.
    weights: npt.NDArray[np.int64] | None = None


@dataclass(slots=True)
class MetricBatch:
    """A batch of points of one service: the value of one ``metrics`` record (key: service)."""

    service: str
    series: list[SeriesPoints]

    @property
    def n_points(self) -> int:
        """Values carried (a weighted value is one point, whatever its weight)."""
        return sum(len(s.values) for s in self.series)


@dataclass(frozen=True, slots=True)
class Tick:
    """A window tick, written by the stream stage into each metrics partition it owns.

    Windows close when a tick says so, not when a timer fires in some process: replaying the
    partition then replays the same closes, which is what makes a restarted worker's output equal
    an undisturbed one.
    """

    close_ms: int  # wall-clock epoch ms at which the tick was written


@dataclass(slots=True)
class RollupRow:
    """Aggregate of one series over one window (or a late correction of it)."""

    service: str
    name: str
    kind: MetricKind
    labels: dict[str, str]
    window_start_ms: int
    window_ms: int
    count: int
    sum: float
    min: float
    max: float
    keys: npt.NDArray[np.int32]  # histogram keys of the values, increasing (schemas/sketch.py; empty for counters)
    counts: npt.NDArray[np.int64]  # observations per key, positive
    late: bool = False  # True for a correction or an early partial row of the window


@dataclass(slots=True)
class RollupBatch:
    """Rows emitted at one tick, in chunks. ``(src_partition, tick_offset, chunk)`` identifies it:
    a worker that replays a partition re-emits the same identities, and the sink skips them."""

    src_partition: int
    tick_offset: int
    chunk: int
    rows: list[RollupRow] = field(default_factory=list)


@dataclass(slots=True)
class DeadLetter:
    """A record some stage rejected, with the reason."""

    source_topic: str
    source_partition: int
    source_offset: int
    stage: str
    reason: str
    payload: bytes
    at_ms: int


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def _loads(data: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"cannot decode record: invalid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise WireError(f"cannot decode record: expected a JSON object, got {type(obj).__name__}")
    return obj


def decode_items(data: bytes, kind: str) -> list[Any]:
    """The item list of a ``{"type": kind, kind: [...]}`` record (``spans``, ``logs``), each item
    still to be validated; :class:`WireError` when the record has another shape."""
    obj = _loads(data)
    items = obj.get(kind)
    if obj.get("type") != kind or not isinstance(items, list):
        raise WireError(f"cannot decode {kind}: expected {{'type': '{kind}', '{kind}': [...]}}")
    return items


def encode_metric_batch(batch: MetricBatch) -> bytes:
    """Encode a batch as the value of one ``metrics`` record."""
    return _dumps(
        {
            "type": "metrics",
            "v": WIRE_VERSION,
            "service": batch.service,
            "series": [_encode_series(s) for s in batch.series],
        }
    )


def _encode_series(series: SeriesPoints) -> dict[str, Any]:
    out: dict[str, Any] = {"name": series.name, "kind": series.kind.value, "labels": series.labels}
    out.update(ts=series.ts, values=series.values)
    if series.weights is not None:
        out["weights"] = series.weights
    return out


# Estimated encoded bytes of one point (13-digit ts, ~20-character value, separators) and of a
# series' envelope besides its labels; used to keep records under Limits.max_record_bytes.
_POINT_BYTES = 40
_SERIES_BYTES = 80


def pack_records(
    service: str, series: Iterable[SeriesPoints], limits: Limits = _DEFAULT_LIMITS
) -> Iterator[MetricBatch]:
    """Pack the series of one service into records: at most ``limits.max_points_per_record`` points
    and about ``limits.max_record_bytes`` encoded bytes each; a series is split where room ends."""
    parts: list[SeriesPoints] = []
    points = size = 0
    for whole in series:
        overhead = _SERIES_BYTES + len(whole.name) + sum(len(k) + len(v) + 6 for k, v in whole.labels.items())
        start, total = 0, len(whole.values)
        while start < total:
            room = min(
                limits.max_points_per_record - points, (limits.max_record_bytes - size - overhead) // _POINT_BYTES
            )
            if room <= 0 and parts:
                yield MetricBatch(service, parts)
                parts, points, size = [], 0, 0
                continue
            take = max(1, min(total - start, room))
            end = start + take
            weights = None if whole.weights is None else whole.weights[start:end]
            ts, values = whole.ts[start:end], whole.values[start:end]
            parts.append(SeriesPoints(whole.name, whole.kind, whole.labels, ts, values, weights))
            points += take
            size += overhead + take * _POINT_BYTES
            start = end
    if parts:
        yield MetricBatch(service, parts)


def encode_tick(close_ms: int) -> bytes:
    """The value of a window tick record (the stream stage's, in metrics and spans partitions)."""
    return _dumps({"type": "tick", "v": WIRE_VERSION, "close_ms": close_ms})


def decode_tick(data: bytes) -> Tick:
    """Decode one window tick record. Raises :class:`WireError` with the reason."""
    obj = _loads(data)
    if obj.get("type") != "tick":
        raise WireError(f"cannot decode tick: record type is {obj.get('type')!r}")
    return _tick(obj)


def _tick(obj: dict[str, Any]) -> Tick:
    close_ms = obj.get("close_ms")
    if isinstance(close_ms, bool) or not isinstance(close_ms, int) or close_ms < 0:
        raise WireError(f"cannot decode tick: close_ms must be epoch milliseconds, found {close_ms!r}")
    return Tick(close_ms)


def decode_metrics_record(data: bytes, limits: Limits = _DEFAULT_LIMITS) -> MetricBatch | Tick:
    """Decode and validate one ``metrics`` record. Raises :class:`WireError` with the reason."""
    obj = _loads(data)
    kind = obj.get("type")
    if kind == "tick":
        return _tick(obj)
    if kind != "metrics":
        raise WireError(f"cannot decode record of type {kind!r}: expected 'metrics' or 'tick'")
    service = obj.get("service")
    if (problem := check_service(service, limits)) is not None:
        raise WireError(problem)
    raw_series = obj.get("series")
    if not isinstance(raw_series, list) or not raw_series:
        raise WireError("series must be a non-empty list")
    series = [_decode_series(i, s, limits) for i, s in enumerate(raw_series)]
    batch = MetricBatch(service=str(service), series=series)
    if batch.n_points > limits.max_points_per_batch:
        raise WireError(f"{batch.n_points} points in one record, the limit is {limits.max_points_per_batch}")
    return batch


def _decode_series(index: int, raw: object, limits: Limits) -> SeriesPoints:
    where = f"series[{index}]"
    if not isinstance(raw, dict):
        raise WireError(f"{where} must be an object")
    name = raw.get("name")
    if (problem := check_metric_name(name, limits)) is not None:
        raise WireError(f"{where}: {problem}")
    try:
        kind = MetricKind(raw.get("kind", MetricKind.DISTRIBUTION.value))
    except ValueError:
        raise WireError(f"{where}: kind {raw.get('kind')!r} is not one of distribution, counter, gauge") from None
    labels = raw.get("labels") or {}
    if (problem := check_labels(labels, limits)) is not None:
        raise WireError(f"{where}: {problem}")
    raw_ts, raw_values = raw.get("ts"), raw.get("values")
    if not (
        isinstance(raw_ts, list) and isinstance(raw_values, list) and raw_values and len(raw_ts) == len(raw_values)
    ):
        raise WireError(f"{where}: ts and values must be non-empty lists of equal length")
    # Element types are checked at C speed (map over the list), not per point in Python: JSON
    # true, "12.5" or 1.5 as a timestamp would otherwise be coerced by numpy.
    if not set(map(type, raw_ts)) <= {int}:
        raise WireError(f"{where}: ts must be integers (epoch milliseconds)")
    if not set(map(type, raw_values)) <= {int, float}:
        raise WireError(f"{where}: values must be numbers")
    try:
        ts = np.asarray(raw_ts, dtype=np.int64)
        values = np.asarray(raw_values, dtype=np.float64)
    except OverflowError as exc:
        raise WireError(f"{where}: a number is out of range ({exc})") from None
    if not (np.abs(values) <= limits.max_abs_value).all():
        raise WireError(f"{where}: values must be finite and within ±{limits.max_abs_value:g}")
    weights = _decode_weights(where, raw.get("weights"), len(values))
    return SeriesPoints(name=str(name), kind=kind, labels=dict(labels), ts=ts, values=values, weights=weights)


def _decode_weights(where: str, raw: object, n: int) -> npt.NDArray[np.int64] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != n or not set(map(type, raw)) <= {int}:
        raise WireError(f"{where}: weights must be a list of integers, one per value")
    try:
        weights = np.asarray(raw, dtype=np.int64)
    except OverflowError as exc:
        raise WireError(f"{where}: a weight is out of range ({exc})") from None
    if not ((weights >= 1) & (weights <= MAX_WEIGHT)).all():
        raise WireError(f"{where}: weights must be within 1..{MAX_WEIGHT}")
    return weights


def _b64(array: npt.NDArray[Any], dtype: str) -> str:
    """``array`` as base64 of its little-endian ``dtype`` bytes."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _unb64(text: str, dtype: str) -> npt.NDArray[Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(dtype.lstrip("<"))


def encode_rollups(batch: RollupBatch) -> bytes:
    """Encode the rows of one tick chunk as the value of one ``rollups`` record."""
    return _dumps(
        {
            "type": "rollups",
            "v": WIRE_VERSION,
            "src_partition": batch.src_partition,
            "tick_offset": batch.tick_offset,
            "chunk": batch.chunk,
            "rows": [
                {
                    "service": r.service,
                    "name": r.name,
                    "kind": r.kind.value,
                    "labels": r.labels,
                    "window_start_ms": r.window_start_ms,
                    "window_ms": r.window_ms,
                    "count": r.count,
                    "sum": r.sum,
                    "min": r.min,
                    "max": r.max,
                    "keys": _b64(r.keys, "<i4"),
                    "counts": _b64(r.counts, "<i8"),
                    "late": r.late,
                }
                for r in batch.rows
            ],
        }
    )


def decode_rollups(data: bytes) -> RollupBatch:
    """Decode one ``rollups`` record. Raises :class:`WireError` when it is not one."""
    obj = _loads(data)
    if obj.get("type") != "rollups":
        raise WireError(f"cannot decode rollups: record type is {obj.get('type')!r}")
    try:
        rows = [
            RollupRow(
                service=r["service"],
                name=r["name"],
                kind=MetricKind(r["kind"]),
                labels=r["labels"],
                window_start_ms=int(r["window_start_ms"]),
                window_ms=int(r["window_ms"]),
                count=int(r["count"]),
                sum=float(r["sum"]),
                min=float(r["min"]),
                max=float(r["max"]),
                keys=_unb64(r["keys"], "<i4"),
                counts=_unb64(r["counts"], "<i8"),
                late=bool(r["late"]),
            )
            for r in obj["rows"]
        ]
        if any(len(r.keys) != len(r.counts) for r in rows):
            raise ValueError("keys and counts differ in length")
        return RollupBatch(int(obj["src_partition"]), int(obj["tick_offset"]), int(obj["chunk"]), rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"cannot decode rollups: {exc!r}") from None


def encode_deadletter(letter: DeadLetter) -> bytes:
    return _dumps(
        {
            "type": "deadletter",
            "v": WIRE_VERSION,
            "source_topic": letter.source_topic,
            "source_partition": letter.source_partition,
            "source_offset": letter.source_offset,
            "stage": letter.stage,
            "reason": letter.reason,
            "payload": base64.b64encode(letter.payload).decode("ascii"),
            "at_ms": letter.at_ms,
        }
    )


def decode_deadletter(data: bytes) -> DeadLetter:
    obj = _loads(data)
    try:
        return DeadLetter(
            source_topic=str(obj["source_topic"]),
            source_partition=int(obj["source_partition"]),
            source_offset=int(obj["source_offset"]),
            stage=str(obj["stage"]),
            reason=str(obj["reason"]),
            payload=base64.b64decode(obj["payload"]),
            at_ms=int(obj["at_ms"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"cannot decode dead letter: {exc!r}") from None
