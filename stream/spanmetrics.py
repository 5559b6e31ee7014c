"""RED metrics derived from spans: ``span.duration`` (distribution, milliseconds), ``span.calls``
and ``span.errors`` (counters), per service with the label ``operation``.

Each span counts at its end time (a request is measured when it completes, as a histogram
observation would be). The derived batches go through the same windows as any metric, so span
RED figures are queried with /api/v1/query like every other metric.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from schemas import MetricBatch, MetricKind, SeriesPoints, SpanStatus
from schemas.spans import SpanArrays

__all__ = ["SPAN_CALLS", "SPAN_DURATION", "SPAN_ERRORS", "span_metrics"]

SPAN_DURATION = "span.duration"
SPAN_CALLS = "span.calls"
SPAN_ERRORS = "span.errors"
_ERROR = SpanStatus.ERROR.value


def span_metrics(spans: SpanArrays) -> list[MetricBatch]:
    """One batch per service: duration, calls and errors series per operation, each series' points
    in the spans' order. Reads the service, operation, status and times columns only: a few list
    passes per record and numpy per series, no object per span."""
    if not len(spans):
        return []
    groups: dict[tuple[str, str], int] = {}  # (service, operation) -> its code, in order of appearance
    codes = np.fromiter(
        (groups.setdefault(key, len(groups)) for key in zip(spans.service, spans.operation, strict=True)),
        np.int64,
        len(spans),
    )
    # Python ints first: a record's times are unbounded integers, epoch ms of them fit int64.
    ends = np.asarray([end // 1_000_000 for end in spans.end_ns], np.int64)
    durations = np.asarray([(e - s) / 1e6 for s, e in zip(spans.start_ns, spans.end_ns, strict=True)], np.float64)
    failed = np.asarray([status == _ERROR for status in spans.status], bool)
    order = np.argsort(codes, kind="stable")
    by_service: dict[str, list[SeriesPoints]] = defaultdict(list)
    bounds = np.cumsum(np.bincount(codes, minlength=len(groups)))[:-1]
    for (service, operation), rows in zip(groups, np.split(order, bounds), strict=True):
        labels = {"operation": operation}
        ts = ends[rows]
        series = by_service[service]
        series.append(SeriesPoints(SPAN_DURATION, MetricKind.DISTRIBUTION, labels, ts, durations[rows]))
        series.append(SeriesPoints(SPAN_CALLS, MetricKind.COUNTER, labels, ts, np.ones(len(rows))))
        errors = ts[failed[rows]]
        if len(errors):
            series.append(SeriesPoints(SPAN_ERRORS, MetricKind.COUNTER, labels, errors, np.ones(len(errors))))
    return [MetricBatch(service, series) for service, series in by_service.items()]
