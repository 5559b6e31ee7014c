"""OTLP metrics -> perfpulse metric points.

Mapping, per data point (its attributes become labels: keys outside ``[A-Za-z0-9_.-]`` get ``_``
instead, ``service`` becomes ``_service``, values are cut at the label length limit; resource
attributes other than ``service.name`` tell series apart for the cumulative memory but are not
labels):

- gauge -> gauge.
- sum, monotonic: delta -> counter (the increment as is); cumulative -> counter of the increase since
  the previous export of the series (:mod:`ingest.receivers.cumulative`: memory per receiver process, a restart
  loses one delta per series). Non-monotonic (an up-down counter): cumulative -> gauge (it is a
  level), delta -> counter (increments, possibly negative).
- histogram and exponential histogram -> distribution. OTLP sends bucket counts, not observations,
  so each non-empty bucket becomes ONE value weighted by its count (schemas.SeriesPoints.weights):
  counts and rates are exact. The value is the bucket's midpoint: the middle of ``(lower, upper]``
  for explicit bounds (the outer buckets reach to the point's min/max when sent, else sit on their
  finite bound), the log-scale middle ``base**(index + 0.5)`` for exponential buckets (their
  natural centre: the relative error is the same for every bucket), 0 for the zero bucket; every
  value is clamped to the point's min/max when sent. Cumulative histograms are turned into
  per-bucket increments the same way as sums. **Approximation**: percentiles are exact to within a
  bucket's width, as with any histogram.
- summary -> one gauge per quantile (label ``quantile``); its count and sum are not stored.

Data points with the "no recorded value" flag are skipped. A data point that fails the checks of the
HTTP envelope (name, labels, time skew, finite values, temporality) is rejected alone and counted in
``partial_success``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from ingest.receivers.cumulative import CumulativeDeltas, ExpBuckets
from ingest.receivers.otlp.common import Rejections, attributes_of, service_of
from schemas import Limits, MetricBatch, MetricKind, SeriesPoints, pack_records
from schemas.checks import check_labels, check_metric_name, check_timestamp
from schemas.limits import RESERVED_LABELS
from schemas.wire import MAX_WEIGHT

__all__ = [
    "ConvertedMetrics",
    "convert_metrics",
    "explicit_midpoints",
    "exponential_midpoints",
]

_NO_RECORDED_VALUE: Final = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK
_DELTA: Final = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_CUMULATIVE: Final = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_BAD_LABEL_CHARS: Final = re.compile(r"[^A-Za-z0-9_.\-]")

Labels = tuple[tuple[str, str], ...]
_Part = tuple[int, npt.NDArray[np.float64], npt.NDArray[np.int64] | None]  # (ts ms, values, weights) of a series
# A data point's kind, values and the observations each value stands for (None: one each).
_Values = tuple[MetricKind, npt.NDArray[np.float64], npt.NDArray[np.int64] | None]


@dataclass
class ConvertedMetrics:
    batches: list[MetricBatch] = field(default_factory=list)
    points: int = 0  # values written (a histogram data point writes one weighted value per non-empty bucket)
    rejected: Rejections = field(default_factory=Rejections)  # in data points


class _Rejected(Exception):
    """One data point is refused; the message says why."""


def explicit_midpoints(
    bounds: npt.NDArray[np.float64], low: float | None, high: float | None
) -> npt.NDArray[np.float64]:
    """The value standing for each of the ``len(bounds) + 1`` buckets ``(-inf, b0], (b0, b1], ...,
    (bn, +inf)``: interior buckets their middle; the outer ones the middle between their bound and
    ``low``/``high`` (the point's min/max) when those lie beyond it, else the bound itself."""
    n = len(bounds)
    mids = np.empty(n + 1, dtype=np.float64)
    mids[1:n] = (bounds[:-1] + bounds[1:]) / 2.0
    first, last = float(bounds[0]), float(bounds[-1])
    mids[0] = (low + first) / 2.0 if low is not None and low < first else first
    mids[n] = (last + high) / 2.0 if high is not None and high > last else last
    return _clamp(mids, low, high)


def exponential_midpoints(scale: int, indexes: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The log-scale middle of exponential buckets: bucket ``i`` is ``(base**i, base**(i+1)]`` with
    ``base = 2**(2**-scale)``, its middle ``base**(i + 0.5)``."""
    with np.errstate(over="ignore"):
        return np.exp2((indexes.astype(np.float64) + 0.5) * math.ldexp(1.0, -scale))


def _clamp(values: npt.NDArray[np.float64], low: float | None, high: float | None) -> npt.NDArray[np.float64]:
    if low is not None and math.isfinite(low):
        values = np.maximum(values, low)
    if high is not None and math.isfinite(high):
        values = np.minimum(values, high)
    return values


def _weighted(mids: npt.NDArray[np.float64], counts: Sequence[int]) -> _Values:
    """The non-empty buckets as values weighted by their counts. Checked before they become int64:
    OTLP counts are uint64, and one past 2**63 - 1 would overflow the conversion."""
    biggest = max(counts, default=0)
    if biggest > MAX_WEIGHT:
        raise _Rejected(f"a bucket count of {biggest} exceeds {MAX_WEIGHT}")
    weights = np.asarray(counts, dtype=np.int64)
    filled = weights > 0
    return MetricKind.DISTRIBUTION, mids[filled], weights[filled]


class _Converter:
    """Converts one request; series are gathered per (service, name, kind, labels)."""

    def __init__(self, now_ms: int, limits: Limits, deltas: CumulativeDeltas) -> None:
        self.now_ms = now_ms
        self.limits = limits
        self.deltas = deltas
        self.series: dict[tuple[str, str, MetricKind, Labels], list[_Part]] = {}
        self.out = ConvertedMetrics()

    def request(self, request: ExportMetricsServiceRequest) -> ConvertedMetrics:
        for r, resource_metrics in enumerate(request.resource_metrics):
            service = service_of(resource_metrics.resource)
            resource = tuple(sorted(attributes_of(resource_metrics.resource.attributes).items()))
            for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
                scope = (scope_metrics.scope.name, scope_metrics.scope.version)
                for m, metric in enumerate(scope_metrics.metrics):
                    where = f"resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}]"
                    self.metric(metric, service, (service, resource, scope, metric.name), where)
        self.out.batches = self._batches()
        return self.out

    def metric(self, metric: Metric, service: str, identity: Hashable, where: str) -> None:
        kind = metric.WhichOneof("data")
        points: Any = getattr(metric, kind).data_points if kind is not None else ()
        if kind is None:
            self.out.rejected.add(f"{where}: metric {metric.name!r} has no data")
            return
        if (problem := check_metric_name(metric.name, self.limits)) is not None:
            if points:
                self.out.rejected.add(f"{where}.name: {problem}", len(points))
            return
        for p, point in enumerate(points):
            if point.flags & _NO_RECORDED_VALUE:
                continue
            try:
                labels = self.labels(point.attributes)
                ts_ms = point.time_unix_nano // 1_000_000 if point.time_unix_nano else self.now_ms
                if (problem := check_timestamp(ts_ms, self.now_ms, self.limits)) is not None:
                    raise _Rejected(problem)
                key = (identity, kind, labels)
                if kind == "summary":
                    for quantile in point.quantile_values:
                        q_labels = tuple(sorted((*labels, ("quantile", f"{quantile.quantile:g}"))))
                        if len(q_labels) > self.limits.max_labels:
                            raise _Rejected(f"{len(q_labels)} labels, the limit is {self.limits.max_labels}")
                        self.add(service, metric.name, q_labels, ts_ms, _plain(MetricKind.GAUGE, quantile.value))
                    continue
                converted = self.values(kind, metric, point, key)
                if converted is not None:
                    self.add(service, metric.name, labels, ts_ms, converted)
            except _Rejected as exc:
                self.out.rejected.add(f"{where}.dataPoints[{p}]: {exc}")

    def values(self, kind: str, metric: Metric, point: Any, key: Hashable) -> _Values | None:
        """The kind and values a data point stands for; None when it only sets a cumulative baseline."""
        if kind == "gauge":
            return _plain(MetricKind.GAUGE, _number(point))
        if kind == "sum":
            return self._sum(metric, point, key)
        if kind == "histogram":
            return self._histogram(metric, point, key)
        if kind == "exponential_histogram":
            return self._exponential(metric, point, key)
        raise _Rejected(f"metric type {kind!r} is not supported")

    def _sum(self, metric: Metric, point: Any, key: Hashable) -> _Values | None:
        temporality, value = metric.sum.aggregation_temporality, _number(point)
        if temporality not in (_DELTA, _CUMULATIVE):
            raise _Rejected("aggregation temporality must be delta or cumulative")
        if not metric.sum.is_monotonic:
            return _plain(MetricKind.GAUGE if temporality == _CUMULATIVE else MetricKind.COUNTER, value)
        if temporality == _DELTA:
            if value < 0:
                raise _Rejected(f"a monotonic sum's increment must not be negative, got {value!r}")
            return _plain(MetricKind.COUNTER, value)
        increase = self.deltas.sum_delta(key, point.start_time_unix_nano, value)
        return None if increase is None else _plain(MetricKind.COUNTER, increase)

    def _histogram(self, metric: Metric, point: Any, key: Hashable) -> _Values | None:
        temporality = metric.histogram.aggregation_temporality
        if temporality not in (_DELTA, _CUMULATIVE):
            raise _Rejected("aggregation temporality must be delta or cumulative")
        bounds = np.asarray(point.explicit_bounds, dtype=np.float64)
        low = point.min if point.HasField("min") else None
        high = point.max if point.HasField("max") else None
        if not point.bucket_counts:  # no buckets: the whole count in one
            counts = [point.count]
        elif len(point.bucket_counts) != len(bounds) + 1:
            raise _Rejected(f"{len(point.bucket_counts)} bucket counts for {len(bounds)} bounds: expected one more")
        elif not np.all(np.diff(bounds) > 0):
            raise _Rejected("explicit bounds must increase")
        else:
            counts = list(point.bucket_counts)
        if len(bounds) and len(counts) > 1:
            mids = explicit_midpoints(bounds, low, high)
        else:  # one bucket: the mean stands for it
            mean = point.sum / point.count if point.HasField("sum") and point.count else (low or 0.0)
            mids = _clamp(_array([mean]), low, high)
        if temporality == _CUMULATIVE:
            increase = self.deltas.counts_delta((key, tuple(bounds.tolist())), point.start_time_unix_nano, counts)
            if increase is None:
                return None
            counts = increase
        return _weighted(mids, counts)

    def _exponential(self, metric: Metric, point: Any, key: Hashable) -> _Values | None:
        temporality = metric.exponential_histogram.aggregation_temporality
        if temporality not in (_DELTA, _CUMULATIVE):
            raise _Rejected("aggregation temporality must be delta or cumulative")
        if not -10 <= point.scale <= 20:
            raise _Rejected(f"scale {point.scale} is outside -10..20")
        buckets = ExpBuckets(point.scale, point.zero_count)
        for side, into in ((point.positive, buckets.positive), (point.negative, buckets.negative)):
            for i, count in enumerate(side.bucket_counts):
                if count:
                    into[side.offset + i] = count
        if temporality == _CUMULATIVE:
            increase = self.deltas.exp_delta(key, point.start_time_unix_nano, buckets)
            if increase is None:
                return None
            buckets = increase
        pos = np.fromiter(buckets.positive.keys(), dtype=np.int64, count=len(buckets.positive))
        neg = np.fromiter(buckets.negative.keys(), dtype=np.int64, count=len(buckets.negative))
        mids = np.concatenate(
            (_array([0.0]), exponential_midpoints(buckets.scale, pos), -exponential_midpoints(buckets.scale, neg))
        )
        counts = [buckets.zero_count, *buckets.positive.values(), *buckets.negative.values()]
        low = point.min if point.HasField("min") else None
        high = point.max if point.HasField("max") else None
        return _weighted(_clamp(mids, low, high), counts)

    def labels(self, attributes: Iterable[Any]) -> Labels:
        limit = self.limits.max_label_value_length
        out: dict[str, str] = {}
        for key, value in attributes_of(attributes).items():
            name = _BAD_LABEL_CHARS.sub("_", key)[: self.limits.max_label_key_length] or "_"
            if not (name[0].isalpha() or name[0] == "_"):
                name = "_" + name
            if name in RESERVED_LABELS:
                name = "_" + name
            out[name] = value[:limit]
        if (problem := check_labels(out, self.limits)) is not None:
            raise _Rejected(problem)
        return tuple(sorted(out.items()))

    def add(self, service: str, name: str, labels: Labels, ts_ms: int, converted: _Values) -> None:
        kind, values, weights = converted
        if not len(values):
            return
        if not np.all(np.abs(values) <= self.limits.max_abs_value):  # also false for NaN
            raise _Rejected(f"values must be finite and within ±{self.limits.max_abs_value:g}")
        self.series.setdefault((service, name, kind, labels), []).append((ts_ms, values, weights))
        self.out.points += len(values)

    def _batches(self) -> list[MetricBatch]:
        by_service: dict[str, list[SeriesPoints]] = {}
        for (service, name, kind, labels), parts in self.series.items():
            values = np.concatenate([v for _, v, _ in parts])
            ts = np.concatenate([np.full(len(v), t, dtype=np.int64) for t, v, _ in parts])
            weights = None
            if any(w is not None for _, _, w in parts):
                weights = np.concatenate([np.ones(len(v), dtype=np.int64) if w is None else w for _, v, w in parts])
            by_service.setdefault(service, []).append(SeriesPoints(name, kind, dict(labels), ts, values, weights))
        return [batch for service, series in by_service.items() for batch in pack_records(service, series, self.limits)]


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)


def _array(values: list[float]) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def _plain(kind: MetricKind, value: float) -> _Values:
    """One unweighted value."""
    return kind, _array([value]), None


def convert_metrics(
    request: ExportMetricsServiceRequest, now_ms: int, limits: Limits, deltas: CumulativeDeltas
) -> ConvertedMetrics:
    """The acceptable data points of ``request`` as metric batches, and the rejected ones counted with
    reasons. Cumulative totals are staged in ``deltas``: the caller commits them once Kafka
    acknowledged the batches (or discards them)."""
    return _Converter(now_ms, limits, deltas).request(request)
