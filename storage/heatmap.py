"""A latency heatmap read from the stored histograms: observations per (time bucket, value bucket).

The value buckets split the keys the range holds (schemas/sketch.py: a key is a bucket of relative
width :data:`~schemas.sketch.ALPHA`, keys grow with the logarithm of the value) into equal runs of
keys, so they are equal steps on a log scale and every histogram key falls in exactly one of them:
the counts are the stored counts regrouped, nothing is interpolated, and they sum to the number of
observations of the range. Two reads over the same rows (window rows and tier pages, as
storage/queries.py plans them): the pages merged over the whole range give the smallest positive and
the largest key; then per time bucket the pages are merged and their slots binned in SQL, so what
comes back is at most one row per cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.sketch import GAMMA, OFFSET, PAGE_SLOTS
from storage.client import Store
from storage.queries import SeriesQuery, pages_sql
from storage.tiers import Segment, plan

__all__ = ["Heatmap", "latency_heatmap"]


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Counts of one metric per time bucket and value bucket.

    ``counts[i][j]`` observations of the bucket starting at ``times[i]`` lie in
    ``(edges[j], edges[j + 1]]``, except that the first value bucket also holds the observations of
    magnitude up to :data:`~schemas.sketch.MIN_MAGNITUDE` (key 0) and negative ones.
    """

    times: list[int]  # starts of the time buckets holding observations, epoch ms, increasing
    edges: list[float]  # value bucket bounds, increasing: one more than the value buckets
    counts: list[list[int]]  # per time bucket, observations per value bucket
    total: int  # every observation of the range: the sum of counts


EMPTY = Heatmap([], [], [], 0)


def _pages(query: SeriesQuery, segments: list[Segment], params: dict[str, Any]) -> str:
    """Columns ``t`` (time bucket), ``page`` and ``pc`` (its slot counts) of every segment, as the
    percentile queries read them (storage/queries.py); a page may come in several rows."""
    params.update(start=query.start_ms, step=query.step_ms, services=list(query.services))
    params.update({f"fk{i}": key for i, key in enumerate(sorted(query.label_filters))})
    params.update({f"fv{i}": query.label_filters[key] for i, key in enumerate(sorted(query.label_filters))})
    return " UNION ALL ".join(pages_sql(segment, query, params, i) for i, segment in enumerate(segments))


def _key_span(store: Store, pages: str, params: dict[str, Any]) -> tuple[int, int, int] | None:
    """The smallest positive key (1 when there is none), the largest key and the observations of
    the range; None when it holds none."""
    rows = store.rows(f"SELECT page, sumForEach(pc) FROM ({pages}) GROUP BY page", params)
    lowest, highest, total = None, None, 0
    for page, slots in rows:
        counts = np.asarray(slots, dtype=np.int64)
        used = np.flatnonzero(counts) + int(page) * PAGE_SLOTS
        if not len(used):
            continue
        total += int(counts.sum())
        positive = used[used > 0]
        if len(positive):
            lowest = int(positive[0]) if lowest is None else min(lowest, int(positive[0]))
        highest = int(used[-1]) if highest is None else max(highest, int(used[-1]))
    if highest is None:
        return None
    low = lowest if lowest is not None else 1
    return low, max(low, highest), total


def latency_heatmap(
    store: Store,
    metric: str,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    buckets: int,
    services: Sequence[str] = (),
    label_filters: Mapping[str, str] | None = None,
    *,
    window_ms: int = 1_000,
) -> Heatmap:
    """The heatmap of ``metric`` over windows starting in ``[start_ms, end_ms)``: time buckets of
    ``step_ms`` aligned to the epoch, at most ``buckets`` (>= 1) value buckets spanning the keys the
    range holds. ``window_ms`` (the stream stage's window) decides which tiers may serve. A counter
    keeps no histogram: it answers :data:`EMPTY`."""
    if buckets < 1 or step_ms < 1:
        raise ValueError(f"cannot build a heatmap of {buckets} value buckets and a {step_ms} ms step")
    query = SeriesQuery((metric,), [], label_filters or {}, services, step_ms, start_ms, (), None)
    params: dict[str, Any] = {}
    pages = _pages(query, plan(start_ms, end_ms, step_ms, window_ms), params)
    if not pages:
        return EMPTY
    span = _key_span(store, pages, params)
    if span is None:
        return EMPTY
    low, high, total = span
    width = math.ceil((high - low + 1) / buckets)  # keys per value bucket
    used = math.ceil((high - low + 1) / width)  # value buckets holding keys: at most `buckets`
    params.update(low=low, width=width, last=used - 1)
    cells = store.rows(
        f"""
        SELECT t, least(greatest(intDiv(page * {PAGE_SLOTS} + slot - 1 - {{low:Int64}}, {{width:Int64}}), 0),
                        {{last:Int64}}) AS b, sum(c)
        FROM (SELECT t, page, sumForEach(pc) AS pc FROM ({pages}) GROUP BY t, page)
        ARRAY JOIN pc AS c, arrayEnumerate(pc) AS slot
        WHERE c > 0
        GROUP BY t, b
        ORDER BY t, b
        """,
        params,
    )
    times: list[int] = []
    counts: list[list[int]] = []
    for t, b, c in cells:
        if not times or times[-1] != int(t):
            times.append(int(t))
            counts.append([0] * used)
        counts[-1][int(b)] = int(c)
    # Key k holds the values (GAMMA**(k - OFFSET - 1), GAMMA**(k - OFFSET)]: a bucket's lower bound is
    # its first key's.
    edges = [float(GAMMA ** (low + j * width - OFFSET - 1)) for j in range(used + 1)]
    return Heatmap(times, edges, counts, total)
