"""RED metrics derived from spans: ``span.duration`` (distribution, milliseconds), ``span.calls``
and ``span.errors`` (counters), per service with the label ``operation``.

Each span counts at its end time (a request is measured when it completes, as a histogram
observation would be). The derived batches go through the same windows as any metric, so span
RED figures are queried with /api/v1/query like every other metric.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from schemas import MetricBatch, MetricKind, SeriesPoints, Span, SpanStatus

__all__ = ["SPAN_CALLS", "SPAN_DURATION", "SPAN_ERRORS", "span_metrics"]

SPAN_DURATION = "span.duration"
SPAN_CALLS = "span.calls"
SPAN_ERRORS = "span.errors"


def span_metrics(spans: list[Span]) -> list[MetricBatch]:
    """One batch per service: duration, calls and errors series per operation."""
    grouped: dict[tuple[str, str], tuple[list[int], list[float], list[int]]] = defaultdict(lambda: ([], [], []))
    for span in spans:
        ends, durations, errors = grouped[(span.service, span.operation)]
        end_ms = span.end_ns // 1_000_000
        ends.append(end_ms)
        durations.append((span.end_ns - span.start_ns) / 1e6)
        if span.status is SpanStatus.ERROR:
            errors.append(end_ms)
    by_service: dict[str, list[SeriesPoints]] = defaultdict(list)
    for (service, operation), (ends, durations, errors) in grouped.items():
        labels = {"operation": operation}
        ts = np.asarray(ends, dtype=np.int64)
        series = by_service[service]
        series.append(SeriesPoints(SPAN_DURATION, MetricKind.DISTRIBUTION, labels, ts, np.asarray(durations)))
        series.append(SeriesPoints(SPAN_CALLS, MetricKind.COUNTER, labels, ts, np.ones(len(ends))))
        if errors:
            series.append(
                SeriesPoints(
                    SPAN_ERRORS, MetricKind.COUNTER, labels, np.asarray(errors, np.int64), np.ones(len(errors))
                )
            )
    return [MetricBatch(service, series) for service, series in by_service.items()]
