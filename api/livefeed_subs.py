"""What a live-feed client may subscribe to, and each subscription's result for the windows the sink
just stored.

Three kinds, told apart by ``kind``:

- ``query``: the parameters of ``GET /api/v1/query`` (``metric``, ``service``, ``stats`` and
  ``group_by`` as lists, ``step``, ``label.<name>`` filters) without a range: each stored window's
  bucket (the window itself, or the ``step`` bucket holding it, as merged so far) is the range.
- ``services``: RED figures per service (``http.server.duration``, as ``GET /api/v1/services``) of
  each stored window, optionally of some services only.
- ``alerts``: alert transitions as they are written, optionally of one rule or into some states.

A subscription is validated once, at the boundary; its :func:`spec_key` (everything but the client's
``id``, normalised) is what connections share: one query per distinct key, never per connection.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting.rules import State
from api.stats import bucket_stats
from schemas import parse_duration_ms
from schemas.events import StoredWindow
from schemas.limits import LABEL_KEY_PATTERN
from schemas.stats import QUANTILES, Stat, quantile_levels
from storage import Store
from storage.client import QueryLimitExceeded
from storage.queries import Bucket, fetch_buckets, red_by_service

__all__ = [
    "MAX_SERIES",
    "RED_LEVELS",
    "REQUEST_METRIC",
    "STATUS_LABEL",
    "AlertsSub",
    "Cell",
    "QuerySub",
    "ServicesSub",
    "Subscription",
    "cells_of",
    "query_results",
    "red_result",
    "runs",
    "shape_key",
    "spec_key",
]

log = logging.getLogger("perfpulse.api.live")

MAX_SERIES = 1_000  # series of one query result; a larger answer is cut and says so (``truncated``)
MAX_NAMES = 100  # services, stats, group_by or label filters in one subscription
REQUEST_METRIC = "http.server.duration"  # RED figures come from this distribution, as /api/v1/services
STATUS_LABEL = "status_code"  # its label telling errors (5xx)
RED_LEVELS = (0.5, 0.95, 0.99)
LABEL_PREFIX = "label."
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")  # no nested quantifier: cannot backtrack
_NAME = Annotated[str, Field(min_length=1, max_length=256)]


class _Sub(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="the client's name for this subscription, echoed in its events (1-64 of A-Za-z0-9_.:-)")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not 1-64 characters of A-Za-z0-9_.:-")
        return value


def _names(values: Sequence[str]) -> list[str]:
    """Deduplicated and sorted: the same subscription written two ways shares one key."""
    return sorted(set(values))


class QuerySub(_Sub):
    """A metric query; labels filter with extra fields ``label.<name>``: ``"label.route": "/buy"``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: Literal["query"]
    metric: _NAME
    service: list[_NAME] = Field(default_factory=list, max_length=MAX_NAMES, description="only these services")
    stats: list[Stat] = Field(
        default_factory=lambda: [Stat.P50, Stat.P95, Stat.P99, Stat.COUNT], min_length=1, max_length=MAX_NAMES
    )
    group_by: list[_NAME] = Field(default_factory=lambda: ["service"], max_length=MAX_NAMES)
    step: str | None = Field(None, description="bucket size, a multiple of the window; default: the window")

    @field_validator("service")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        return _names(value)

    @field_validator("stats")
    @classmethod
    def _stats(cls, value: list[Stat]) -> list[Stat]:
        order = list(Stat)  # a point is an object: the order asked in changes nothing but the key
        return sorted(set(value), key=order.index)

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for dimension in value:
            if dimension != "service" and not LABEL_KEY_PATTERN.match(dimension):
                raise ValueError(f"{dimension!r} is neither 'service' nor a label name")
        return list(dict.fromkeys(value))

    @field_validator("step")
    @classmethod
    def _step(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration_ms(value)  # ValueError naming the value
        return value

    @model_validator(mode="after")
    def _labels(self) -> QuerySub:
        extra = self.model_extra or {}
        if len(extra) > MAX_NAMES:
            raise ValueError(f"{len(extra)} label filters; at most {MAX_NAMES}")
        for key, value in extra.items():
            label = key.removeprefix(LABEL_PREFIX)
            if not key.startswith(LABEL_PREFIX) or not LABEL_KEY_PATTERN.match(label):
                raise ValueError(f"unknown field {key[:80]!r}: fields are the query's, filters label.<name>")
            if not isinstance(value, str) or len(value) > 1024:
                raise ValueError(f"filter {key!r} takes a string of at most 1024 characters")
        return self

    @property
    def labels(self) -> dict[str, str]:
        """The label filters, name -> value."""
        return {k.removeprefix(LABEL_PREFIX): str(v) for k, v in sorted((self.model_extra or {}).items())}

    def step_ms(self, window_ms: int) -> int:
        """The bucket size: ``step`` (a multiple of ``window_ms``, ValueError otherwise) or the window."""
        if self.step is None:
            return window_ms
        step_ms = parse_duration_ms(self.step)
        if step_ms % window_ms:
            raise ValueError(f"step {self.step} is not a multiple of the {window_ms} ms window")
        return step_ms


class ServicesSub(_Sub):
    kind: Literal["services"]
    service: list[_NAME] = Field(default_factory=list, max_length=MAX_NAMES, description="only these services")

    @field_validator("service")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        return _names(value)


class AlertsSub(_Sub):
    kind: Literal["alerts"]
    rule: _NAME | None = Field(None, description="only this rule's transitions")
    state: list[State] = Field(default_factory=list, max_length=len(State), description="only into these states")

    @field_validator("state")
    @classmethod
    def _states(cls, value: list[State]) -> list[State]:
        return sorted(set(value), key=lambda s: s.value)


Subscription = Annotated[QuerySub | ServicesSub | AlertsSub, Field(discriminator="kind")]


def spec_key(sub: QuerySub | ServicesSub | AlertsSub) -> str:
    """What two subscriptions must share to be computed once: all but ``id``, in a canonical form."""
    return _canonical(sub, {"id"})


def shape_key(sub: QuerySub) -> str:
    """What query subscriptions must share to be computed by one query: all but ``id`` and ``metric``."""
    return _canonical(sub, {"id", "metric"})


def _canonical(sub: QuerySub | ServicesSub | AlertsSub, exclude: set[str]) -> str:
    return orjson.dumps(sub.model_dump(mode="json", exclude=exclude), option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True, slots=True)
class Cell:
    """The range of one result: a subscription's bucket that stored windows changed."""

    start_ms: int
    end_ms: int
    late: bool  # a window of it was a correction of one already stored: this result replaces one sent


def cells_of(sub: QuerySub | ServicesSub, windows: Sequence[StoredWindow], window_ms: int) -> list[Cell]:
    """The buckets of ``sub`` that ``windows`` touched, oldest first (``window_ms``: the stream's)."""
    if isinstance(sub, QuerySub):
        metric, width = sub.metric, sub.step_ms(window_ms)
    else:
        metric, width = REQUEST_METRIC, window_ms
    late: dict[int, bool] = {}
    for w in windows:
        if w.metric == metric and (not sub.service or w.service in sub.service):
            start = w.start_ms - w.start_ms % width
            late[start] = late.get(start, False) or w.late
    return [Cell(start, start + width, late[start]) for start in sorted(late)]


def _finite(value: float | int | None) -> float | int | None:
    """NaN as null: JSON has no NaN and MessagePack clients would have to special-case it."""
    return None if isinstance(value, float) and math.isnan(value) else value


def runs(cells: Sequence[Cell]) -> list[list[Cell]]:
    """``cells`` (oldest first, one width) in runs of adjacent ones, each computed by one query: a
    round that took several windows of a subscription costs one query, and a late window far back
    does not stretch the range of the current one."""
    found: list[list[Cell]] = []
    for cell in cells:
        if found and found[-1][-1].end_ms == cell.start_ms:
            found[-1].append(cell)
        else:
            found.append([cell])
    return found


def query_results(
    store: Store, subs: Sequence[QuerySub], run: Sequence[Cell], window_ms: int
) -> list[tuple[QuerySub, Cell, dict[str, Any], bool]]:
    """``GET /api/v1/query``'s answer for each of ``subs`` (one :func:`shape_key`, distinct
    metrics) and each cell of ``run`` (adjacent cells of one width; one point per series), and
    whether series past :data:`MAX_SERIES` were cut, from one query: ClickHouse spends most of a
    live result's ~20 ms planning it, so ten metrics cost about what one does. Series past
    :data:`MAX_SERIES` are cut; a query past its row bound (``fetch_buckets``: 2,000 per metric
    and cell) is asked again metric by metric, and a metric past it alone is left out (logged),
    not the others with it. Blocking: run it in a thread. A counter asked for percentiles answers
    them null (the subscription was valid when the metric's kind was not known)."""
    first, step_ms = subs[0], run[0].end_ms - run[0].start_ms
    try:
        buckets = fetch_buckets(
            store, tuple(s.metric for s in subs), run[0].start_ms, run[-1].end_ms, step_ms, first.group_by,
            first.labels, first.service, quantile_levels(first.stats), window_ms=window_ms,
        )  # fmt: skip
    except QueryLimitExceeded as exc:
        if exc.bound != "series":
            raise
        if len(subs) == 1:
            log.warning("cannot compute the live result of %s for %s: %s", first.metric, list(run), exc)
            return []
        return [found for sub in subs for found in query_results(store, [sub], run, window_ms)]
    by_cell: dict[tuple[str, int], list[Bucket]] = {(s.metric, cell.start_ms): [] for s in subs for cell in run}
    for bucket in buckets:  # each cell's in the query's order: by metric, group, then time
        by_cell[bucket.metric, bucket.t_ms].append(bucket)  # buckets start at cells: the run is adjacent and aligned
    return [(sub, cell, *_query_result(sub, cell, by_cell[sub.metric, cell.start_ms])) for sub in subs for cell in run]


def _query_result(sub: QuerySub, cell: Cell, buckets: list[Bucket]) -> tuple[dict[str, Any], bool]:
    step_ms = cell.end_ms - cell.start_ms
    series = []
    for _, group in groupby(buckets, key=lambda b: tuple(b.group[d] for d in sub.group_by)):
        rows = list(group)
        points = []
        for b in rows:
            stats = {k: _finite(v) for k, v in bucket_stats(b, sub.stats, step_ms).items()}
            if b.kind == "counter":
                stats.update({s.value: None for s in sub.stats if s in QUANTILES})
            points.append({"t": b.t_ms, **stats})
        series.append({"group": rows[0].group, "points": points})
    body = {"metric": sub.metric, "start": cell.start_ms, "end": cell.end_ms, "step_ms": step_ms}
    return {**body, "series": series[:MAX_SERIES]}, len(series) > MAX_SERIES


def red_result(store: Store, sub: ServicesSub, cell: Cell, window_ms: int) -> dict[str, Any]:
    """RED figures per service for ``cell`` (rate per second over the cell). Blocking."""
    found = red_by_service(
        store, REQUEST_METRIC, STATUS_LABEL, cell.start_ms, cell.end_ms, RED_LEVELS, window_ms=window_ms
    )
    seconds = (cell.end_ms - cell.start_ms) / 1000.0
    services = [
        {
            "service": r.service,
            "requests": r.requests,
            "rate": r.requests / seconds,
            "errors": r.errors,
            "error_rate": r.errors / r.requests if r.requests else 0.0,
            **{name: _finite(q) for name, q in zip(("p50", "p95", "p99"), r.quantiles, strict=True)},
        }
        for r in found
        if not sub.service or r.service in sub.service
    ]
    return {"start": cell.start_ms, "end": cell.end_ms, "services": services}
