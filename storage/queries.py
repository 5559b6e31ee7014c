"""Read helpers over the rollups: buckets of merged windows, RED summaries, what exists.

A query groups window rows into buckets (``step`` milliseconds, aligned to the epoch) and series
groups. Percentiles of a bucket are computed by ClickHouse as a weighted quantile over the union of
the t-digest centroids of every window row in it (``quantilesExactWeightedInterpolatedArray``):
that is merging the digests (never averaging stored percentiles), and it runs where the data is,
at ~10 ns per centroid instead of ~100 ns in Python. Measured against numpy on lognormal, Pareto
and bimodal data it stays within 0.1 % (tests/storage/test_queries.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from storage.client import Store

__all__ = [
    "Bucket",
    "MetricInfo",
    "ServiceInfo",
    "ServiceRed",
    "fetch_buckets",
    "list_metrics",
    "list_services",
    "red_by_service",
]


@dataclass(slots=True)
class Bucket:
    """The merged windows of one group in one time bucket."""

    group: dict[str, str]  # group_by dimension -> value
    t_ms: int  # bucket start, epoch ms
    kind: str  # distribution, counter or gauge
    count: int
    sum: float
    min: float
    max: float
    quantiles: list[float]  # at the requested levels, from the merged digest (empty for counters)


def _quantiles_sql(levels: Sequence[float]) -> str:
    if not levels:
        return "[]"
    args = ", ".join(repr(float(q)) for q in levels)
    return f"quantilesExactWeightedInterpolatedArray({args})(centroid_means, centroid_weights)"


def _range_filter(params: dict[str, Any], start_ms: int, end_ms: int) -> list[str]:
    params["start"], params["end"] = start_ms, end_ms
    return [
        "window_start >= fromUnixTimestamp64Milli({start:Int64})",
        "window_start < fromUnixTimestamp64Milli({end:Int64})",
    ]


def _group_exprs(group_by: Sequence[str], params: dict[str, Any]) -> list[str]:
    exprs = []
    for i, dimension in enumerate(group_by):
        if dimension == "service":
            exprs.append("service")
        else:
            params[f"g{i}"] = dimension
            exprs.append(f"labels[{{g{i}:String}}]")
    return exprs


def fetch_buckets(
    store: Store,
    metric: str,
    start_ms: int,
    end_ms: int,
    step_ms: int | None,
    group_by: Sequence[str],
    label_filters: Mapping[str, str],
    services: Sequence[str] = (),
    quantiles: Sequence[float] = (),
) -> list[Bucket]:
    """Buckets of ``metric`` over windows starting in ``[start_ms, end_ms)``.

    With ``step_ms`` buckets start at multiples of it (epoch-aligned); without, one bucket per group
    starts at ``start_ms``. ``group_by`` names ``service`` and/or label names; ``quantiles`` are
    levels in (0, 1).
    """
    params: dict[str, Any] = {"metric": metric}
    groups = _group_exprs(group_by, params)
    where = ["name = {metric:String}", *_range_filter(params, start_ms, end_ms)]
    if services:
        params["services"] = list(services)
        where.append("service IN {services:Array(String)}")
    for i, (key, value) in enumerate(sorted(label_filters.items())):
        params[f"fk{i}"], params[f"fv{i}"] = key, value
        where.append(f"labels[{{fk{i}:String}}] = {{fv{i}:String}}")
    if step_ms:
        params["step"] = step_ms
        bucket = "intDiv(toUnixTimestamp64Milli(window_start), {step:Int64}) * {step:Int64}"
    else:
        bucket = "{start:Int64}"
    keys = [f"{expr} AS g{i}" for i, expr in enumerate(groups)]
    order = ", ".join([*(f"g{i}" for i in range(len(groups))), "t"])
    sql = f"""
        SELECT {", ".join([*keys, f"{bucket} AS t"])},
               any(kind), sum(count), sum(sum), min(min), max(max), {_quantiles_sql(quantiles)}
        FROM rollups
        WHERE {" AND ".join(where)}
        GROUP BY {order}
        ORDER BY {order}
    """
    n = len(groups)
    return [
        Bucket(
            group=dict(zip(group_by, row[:n], strict=True)),
            t_ms=int(row[n]),
            kind=str(row[n + 1]),
            count=int(row[n + 2]),
            sum=float(row[n + 3]),
            min=float(row[n + 4]),
            max=float(row[n + 5]),
            quantiles=[float(q) for q in row[n + 6]],
        )
        for row in store.rows(sql, params)
    ]


@dataclass(slots=True)
class ServiceRed:
    """Rate, errors and duration of one service's requests over a range."""

    service: str
    requests: int
    errors: int  # requests whose status label starts with 5
    quantiles: list[float]  # durations at the requested levels


def red_by_service(
    store: Store, metric: str, status_label: str, start_ms: int, end_ms: int, quantiles: Sequence[float]
) -> list[ServiceRed]:
    params: dict[str, Any] = {"metric": metric, "status": status_label}
    where = ["name = {metric:String}", *_range_filter(params, start_ms, end_ms)]
    rows = store.rows(
        f"""
        SELECT service, sum(count), sumIf(count, startsWith(labels[{{status:String}}], '5')),
               {_quantiles_sql(quantiles)}
        FROM rollups
        WHERE {" AND ".join(where)}
        GROUP BY service
        """,
        params,
    )
    return [ServiceRed(r[0], int(r[1]), int(r[2]), [float(q) for q in r[3]]) for r in rows]


@dataclass(slots=True)
class MetricInfo:
    name: str
    kind: str
    services: list[str]
    series: int  # distinct (service, labels) combinations seen in the range
    points: int  # points in the range
    last_seen_ms: int  # start of the newest window holding the metric


def list_metrics(store: Store, start_ms: int, end_ms: int) -> list[MetricInfo]:
    rows = store.rows(
        """
        SELECT name, any(kind), groupUniqArray(service), uniqExact(service, labels), sum(count),
               toUnixTimestamp64Milli(max(window_start))
        FROM rollups
        WHERE window_start >= fromUnixTimestamp64Milli({start:Int64})
          AND window_start < fromUnixTimestamp64Milli({end:Int64})
        GROUP BY name ORDER BY name
        """,
        {"start": start_ms, "end": end_ms},
    )
    return [MetricInfo(r[0], str(r[1]), sorted(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]


@dataclass(slots=True)
class ServiceInfo:
    service: str
    metrics: int  # distinct metric names in the range
    points: int
    last_seen_ms: int


def list_services(store: Store, start_ms: int, end_ms: int) -> list[ServiceInfo]:
    rows = store.rows(
        """
        SELECT service, uniqExact(name), sum(count), toUnixTimestamp64Milli(max(window_start))
        FROM rollups
        WHERE window_start >= fromUnixTimestamp64Milli({start:Int64})
          AND window_start < fromUnixTimestamp64Milli({end:Int64})
        GROUP BY service ORDER BY service
        """,
        {"start": start_ms, "end": end_ms},
    )
    return [ServiceInfo(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]
