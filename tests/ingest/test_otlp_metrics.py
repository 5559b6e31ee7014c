"""OTLP metrics conversion, data point by data point: kinds, histograms (one weighted value per
bucket at its midpoint, clamped), label names, and what is rejected alone."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from ingest.receivers.cumulative import CumulativeDeltas
from ingest.receivers.otlp.metrics import convert_metrics, explicit_midpoints, exponential_midpoints
from schemas import Limits

DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
NOW_MS = time.time_ns() // 1_000_000
NOW_NS = NOW_MS * 1_000_000


def request_with(*metrics: Metric, service: str = "svc") -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.add(key="service.name").value.string_value = service
    resource_metrics.scope_metrics.add().metrics.extend(metrics)
    return request


def convert(*metrics: Metric, deltas: CumulativeDeltas | None = None) -> tuple[dict[Any, list[float]], Any]:
    """The observations per series (a weighted value repeated by its weight), and the conversion."""
    converted = convert_metrics(request_with(*metrics), NOW_MS, Limits(), deltas or CumulativeDeltas())
    out: dict[Any, list[float]] = {}
    for batch in converted.batches:
        for s in batch.series:
            observed = s.values if s.weights is None else np.repeat(s.values, s.weights)
            out.setdefault((s.name, s.kind.value, tuple(sorted(s.labels.items()))), []).extend(observed.tolist())
    return out, converted


def histogram(name: str, counts: list[int], bounds: list[float], **fields: Any) -> Metric:
    metric = Metric(name=name)
    metric.histogram.aggregation_temporality = fields.pop("temporality", DELTA)
    point = metric.histogram.data_points.add(time_unix_nano=NOW_NS, bucket_counts=counts, explicit_bounds=bounds)
    point.count = sum(counts)
    for key, value in fields.items():
        setattr(point, key, value)
    return metric


def test_explicit_midpoints_reach_to_min_and_max_and_are_clamped() -> None:
    bounds = np.asarray([10.0, 20.0, 40.0])
    assert explicit_midpoints(bounds, None, None).tolist() == [10.0, 15.0, 30.0, 40.0]
    assert explicit_midpoints(bounds, 2.0, 100.0).tolist() == [6.0, 15.0, 30.0, 70.0]
    assert explicit_midpoints(bounds, 16.0, 25.0).tolist() == [16.0, 16.0, 25.0, 25.0]


def test_exponential_midpoints_are_the_log_scale_middle() -> None:
    # scale 0: base 2, bucket i is (2**i, 2**(i+1)].
    assert exponential_midpoints(0, np.asarray([0, 3, -2])).tolist() == pytest.approx([2**0.5, 2**3.5, 2**-1.5])
    base = 2 ** (2**-3)
    assert exponential_midpoints(3, np.asarray([10])).tolist() == pytest.approx([base**10.5])


def test_a_histogram_becomes_one_weighted_value_per_non_empty_bucket() -> None:
    found, converted = convert(histogram("latency", [1, 0, 2, 1], [10, 20, 40], min=4.0, max=90.0))
    assert found == {("latency", "distribution", ()): [7.0, 30.0, 30.0, 65.0]}
    [series] = converted.batches[0].series
    assert series.values.tolist() == [7.0, 30.0, 65.0] and series.weights.tolist() == [1, 2, 1]
    assert converted.points == 3 and converted.rejected.count == 0


def test_huge_bucket_counts_stay_exact_in_one_value_each() -> None:
    _, converted = convert(histogram("latency", [0, 10_000_000, 3_000, 1], [10, 20, 40]))
    [series] = converted.batches[0].series
    assert series.values.tolist() == [15.0, 30.0, 40.0]
    assert series.weights.tolist() == [10_000_000, 3_000, 1]  # counts and rates are exact


def test_a_bucket_count_beyond_a_weight_is_rejected() -> None:
    found, converted = convert(histogram("latency", [0, 2**32, 1], [10, 20]))
    assert found == {} and "exceeds 4294967295" in converted.rejected.message()


def test_counts_past_int64_are_rejected_not_an_error() -> None:
    """OTLP counts are uint64: 2**63 (found by the fuzz test) overflowed the int64 conversion, a 500."""
    whole = Metric(name="whole")
    whole.histogram.aggregation_temporality = DELTA
    whole.histogram.data_points.add(time_unix_nano=NOW_NS, count=2**63)
    exponential = Metric(name="exponential")
    exponential.exponential_histogram.aggregation_temporality = DELTA
    exponential.exponential_histogram.data_points.add(time_unix_nano=NOW_NS, zero_count=2**63)
    found, converted = convert(whole, exponential)
    assert found == {} and converted.rejected.count == 2
    assert converted.rejected.message().count(f"a bucket count of {2**63} exceeds 4294967295") == 2


def test_a_histogram_without_buckets_puts_its_count_at_the_mean() -> None:
    metric = Metric(name="latency")
    metric.histogram.aggregation_temporality = DELTA
    metric.histogram.data_points.add(time_unix_nano=NOW_NS, count=3, sum=36.0)
    found, converted = convert(metric)
    assert found == {("latency", "distribution", ()): [12.0, 12.0, 12.0]}
    assert converted.batches[0].series[0].weights.tolist() == [3]


def test_exponential_histogram_with_zero_and_negative_buckets() -> None:
    metric = Metric(name="delta.ms")
    metric.exponential_histogram.aggregation_temporality = DELTA
    point = metric.exponential_histogram.data_points.add(time_unix_nano=NOW_NS, scale=0, zero_count=2)
    point.positive.offset, point.negative.offset = 1, 0
    point.positive.bucket_counts.extend([1, 0, 1])  # (2, 4] and (8, 16]
    point.negative.bucket_counts.extend([1])  # [-2, -1)
    values = sorted(convert(metric)[0][("delta.ms", "distribution", ())])
    assert values == pytest.approx([-(2**0.5), 0.0, 0.0, 2**1.5, 2**3.5])


def test_sums_gauges_and_summaries() -> None:
    monotonic_delta = Metric(name="jobs")
    monotonic_delta.sum.aggregation_temporality, monotonic_delta.sum.is_monotonic = DELTA, True
    monotonic_delta.sum.data_points.add(time_unix_nano=NOW_NS, as_int=4)
    level = Metric(name="queue.depth")
    level.sum.aggregation_temporality = CUMULATIVE  # not monotonic: a level
    level.sum.data_points.add(time_unix_nano=NOW_NS, as_double=-3.0)
    change = Metric(name="balance.change")
    change.sum.aggregation_temporality = DELTA
    change.sum.data_points.add(time_unix_nano=NOW_NS, as_double=-3.0)
    gauge = Metric(name="temperature")
    gauge.gauge.data_points.add(time_unix_nano=NOW_NS, as_double=21.5)
    summary = Metric(name="rpc.ms")
    point = summary.summary.data_points.add(time_unix_nano=NOW_NS, count=10, sum=100.0)
    point.quantile_values.add(quantile=0.5, value=8.0)
    point.quantile_values.add(quantile=0.99, value=40.0)
    found, _ = convert(monotonic_delta, level, change, gauge, summary)
    assert found == {
        ("jobs", "counter", ()): [4.0],
        ("queue.depth", "gauge", ()): [-3.0],
        ("balance.change", "counter", ()): [-3.0],
        ("temperature", "gauge", ()): [21.5],
        ("rpc.ms", "gauge", (("quantile", "0.5"),)): [8.0],
        ("rpc.ms", "gauge", (("quantile", "0.99"),)): [40.0],
    }


def test_cumulative_series_are_kept_apart_by_resource_and_labels() -> None:
    deltas = CumulativeDeltas(started_ns=NOW_NS - 10)

    def export(instance: str, total: int) -> dict[Any, list[float]]:
        metric = Metric(name="requests")
        metric.sum.aggregation_temporality, metric.sum.is_monotonic = CUMULATIVE, True
        metric.sum.data_points.add(time_unix_nano=NOW_NS, start_time_unix_nano=NOW_NS - 5, as_int=total)
        request = request_with(metric)
        request.resource_metrics[0].resource.attributes.add(key="service.instance.id").value.string_value = instance
        converted = convert_metrics(request, NOW_MS, Limits(), deltas)
        deltas.commit()
        return {s.name: s.values.tolist() for b in converted.batches for s in b.series}

    assert export("a", 10) == {"requests": [10.0]}
    assert export("b", 3) == {"requests": [3.0]}  # another instance, not a reset of "a"
    assert export("a", 12) == {"requests": [2.0]}


def test_attribute_names_become_valid_labels() -> None:
    metric = Metric(name="m")
    point = metric.gauge.data_points.add(time_unix_nano=NOW_NS, as_double=1.0)
    for key, value in (("http.method", "GET"), ("bad key/x", "1"), ("service", "other"), ("1st", "y")):
        point.attributes.add(key=key).value.string_value = value
    point.attributes.add(key="long").value.string_value = "v" * 2_000
    [(_, _, labels)] = convert(metric)[0]
    assert dict(labels) == {
        "http.method": "GET",
        "bad_key_x": "1",
        "_service": "other",
        "_1st": "y",
        "long": "v" * Limits().max_label_value_length,
    }


def test_bad_data_points_are_rejected_alone() -> None:
    ok = Metric(name="ok")
    ok.gauge.data_points.add(time_unix_nano=NOW_NS, as_double=1.0)
    ok.gauge.data_points.add(time_unix_nano=NOW_NS, as_double=2.0, flags=1)  # no recorded value: skipped
    bad_name = Metric(name="9lives")
    bad_name.gauge.data_points.add(time_unix_nano=NOW_NS, as_double=1.0)
    old = Metric(name="old")
    old.gauge.data_points.add(time_unix_nano=NOW_NS - 25 * 3_600 * 10**9, as_double=1.0)
    infinite = Metric(name="inf")
    infinite.gauge.data_points.add(time_unix_nano=NOW_NS, as_double=math.inf)
    negative = Metric(name="neg")
    negative.sum.aggregation_temporality, negative.sum.is_monotonic = DELTA, True
    negative.sum.data_points.add(time_unix_nano=NOW_NS, as_double=-1.0)
    mismatch = histogram("h", [1, 2], [1.0, 2.0])
    unordered = histogram("u", [1, 2, 3], [2.0, 1.0])
    empty = Metric(name="empty")
    found, converted = convert(ok, bad_name, old, infinite, negative, mismatch, unordered, empty)
    assert found == {("ok", "gauge", ()): [1.0]}
    assert converted.rejected.count == 7
    message = converted.rejected.message()
    assert "metrics[1].name" in message and "in the past" in message and "finite" in message
    assert "and 2 more" in message
