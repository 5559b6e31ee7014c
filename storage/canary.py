"""The merged observations of one label set of a metric over a range: what a canary verdict compares.

A label set (``version=1.5``, maybe with a service) selects every series carrying those labels;
their window rows (or tier rows, :func:`storage.tiers.plan`) merge into one :class:`Sample`: the
exact count, error count, extremes, and the whole histogram of the percentile engine
(schemas/sketch.py), so its quantiles are the ones the query API and the alerts report, and a
statistical test can read its cumulative distribution.

The histogram comes back as at most one row per storage page (``PAGE_SLOTS`` keys each, ~80 pages
for every magnitude from 1e-9 to 1e18): the answer's size does not grow with the range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.sketch import EMPTY, PAGE_SLOTS, Histogram, from_keys
from storage.client import Store
from storage.queries import fetch_buckets
from storage.tiers import Segment, plan

__all__ = ["Sample", "label_sample"]


@dataclass(frozen=True, slots=True)
class Sample:
    """Every observation of one label set in a range, merged."""

    kind: str  # the metric's kind (distribution, counter, gauge); "" when nothing matched
    count: int  # observations
    errors: int  # observations whose error label starts with 5
    minimum: float  # exact extremes (NaN when empty)
    maximum: float
    histogram: Histogram  # counts per key of schemas.sketch; EMPTY when count is 0


def _where(segment: Segment, params: dict[str, Any], index: int, labels: Mapping[str, str], service: bool) -> str:
    params[f"s{index}"], params[f"e{index}"] = segment.start_ms, segment.end_ms
    clauses = [
        "name = {metric:String}",
        f"window_start >= fromUnixTimestamp64Milli({{s{index}:Int64}})",
        f"window_start < fromUnixTimestamp64Milli({{e{index}:Int64}})",
        *(f"labels[{{lk{i}:String}}] = {{lv{i}:String}}" for i in range(len(labels))),
    ]
    if service:
        clauses.append("service IN {services:Array(String)}")
    return " AND ".join(clauses)


def _pages_sql(segments: list[Segment], params: dict[str, Any], labels: Mapping[str, str], service: bool) -> str:
    """One row per page of the merged histogram: ``page``, its slot counts summed over every row."""
    parts = []
    for index, segment in enumerate(segments):
        where = _where(segment, params, index, labels, service)
        if segment.pages == "rollups":  # window rows carry their pages
            parts.append(f"SELECT page, pc FROM rollups ARRAY JOIN pages AS page, page_counts AS pc WHERE {where}")
        else:  # a tier's pages: aggregate states, merged per page
            parts.append(f"SELECT page, sumForEachMerge(counts) AS pc FROM {segment.pages} WHERE {where} GROUP BY page")
    return f"SELECT page, sumForEach(pc) FROM ({' UNION ALL '.join(parts)}) GROUP BY page ORDER BY page"


def _histogram(rows: list[tuple[Any, ...]]) -> Histogram:
    keys: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for page, slots in rows:
        dense = np.asarray(slots, dtype=np.int64)
        used = np.flatnonzero(dense)
        keys.append((int(page) * PAGE_SLOTS + used).astype(np.int32))
        counts.append(dense[used])
    if not keys:
        return EMPTY
    return from_keys(np.concatenate(keys), np.concatenate(counts))


def label_sample(
    store: Store,
    metric: str,
    labels: Mapping[str, str],
    start_ms: int,
    end_ms: int,
    *,
    services: Sequence[str] = (),
    error_label: str | None = None,
    window_ms: int = 1_000,
) -> Sample:
    """The merged observations of ``metric`` in series carrying every one of ``labels`` (of
    ``services`` when given) over windows starting in ``[start_ms, end_ms)``; ``error_label`` counts
    observations whose label of that name starts with 5 as errors."""
    buckets = fetch_buckets(
        store, metric, start_ms, end_ms, None, [], labels, services, window_ms=window_ms, error_label=error_label
    )
    if not buckets or buckets[0].count == 0:
        return Sample("", 0, 0, float("nan"), float("nan"), EMPTY)
    found = buckets[0]
    params: dict[str, Any] = {"metric": metric, "services": list(services)}
    for i, (key, value) in enumerate(sorted(labels.items())):
        params[f"lk{i}"], params[f"lv{i}"] = key, value
    segments = plan(start_ms, end_ms, None, window_ms)
    histogram = _histogram(store.rows(_pages_sql(segments, params, labels, bool(services)), params))
    return Sample(found.kind, found.count, found.errors, found.min, found.max, histogram)
