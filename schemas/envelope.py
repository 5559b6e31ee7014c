"""The HTTP ingest envelope for metrics (architecture section 5) and its validation.

``POST /api/v1/ingest/metrics`` takes ``{"service", "labels"?, "points": [{"name", "value", "ts",
"kind"?, "labels"?}]}``. :func:`parse_metrics_envelope` turns a decoded JSON body into columnar
:class:`~schemas.wire.MetricBatch` chunks, or raises :class:`EnvelopeError` listing every bad
field, so a bad batch is rejected whole and nothing of it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictStr, ValidationError

from schemas.checks import check_labels, check_metric_name, check_service, check_timestamp
from schemas.limits import Limits
from schemas.timeparse import parse_timestamp_ms
from schemas.wire import MetricBatch, MetricKind, SeriesPoints, pack_records

__all__ = [
    "EnvelopeError",
    "FieldError",
    "MetricPointIn",
    "MetricsEnvelope",
    "TimestampIn",
    "field_errors",
    "parse_metrics_envelope",
    "validate_envelope",
]

E = TypeVar("E", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class FieldError:
    loc: str  # JSON path of the offending field, e.g. "points[3].value"
    msg: str

    def as_dict(self) -> dict[str, str]:
        return {"loc": self.loc, "msg": self.msg}


class EnvelopeError(ValueError):
    """A rejected envelope; ``details`` names each offending field."""

    def __init__(self, message: str, details: list[FieldError]) -> None:
        super().__init__(message)
        self.details = details


def _timestamp_input(value: object) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be epoch milliseconds (an integer) or an RFC 3339 string")
    return value


TimestampIn = Annotated[int | str, PlainValidator(_timestamp_input, json_schema_input_type=int | str)]


class MetricPointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    value: Annotated[float, Field(strict=True)]  # ints accepted; bools and strings are not
    ts: TimestampIn | None = Field(default=None, description="epoch ms or RFC 3339; default now")
    kind: MetricKind = MetricKind.DISTRIBUTION
    labels: dict[StrictStr, StrictStr] | None = None


class MetricsEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: StrictStr
    labels: dict[StrictStr, StrictStr] | None = None
    points: list[MetricPointIn]


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def field_errors(exc: ValidationError, limit: int = 100) -> list[FieldError]:
    """The first ``limit`` errors of a pydantic validation, each located by its JSON path."""
    return [FieldError(_loc(tuple(e["loc"])), e["msg"]) for e in exc.errors()[:limit]]


def validate_envelope(body: Any, model: type[E], items: str, noun: str, most: int) -> E:
    """``body`` as ``model``, whose list field ``items`` holds 1 to ``most`` elements (``noun`` each).

    The size is checked first, so an oversized body is refused before pydantic reads every item.
    Raises :class:`EnvelopeError` with the field-level reasons.
    """
    if isinstance(body, dict) and isinstance(body.get(items), list):
        n = len(body[items])
        if n == 0:
            raise EnvelopeError("empty batch", [FieldError(items, f"must hold at least one {noun}")])
        if n > most:
            raise EnvelopeError("oversized batch", [FieldError(items, f"{n} {noun}s, the limit is {most} per request")])
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise EnvelopeError(
            f"invalid {model.__name__.removesuffix('Envelope').lower()} batch", field_errors(exc)
        ) from None


def parse_metrics_envelope(body: Any, now_ms: int, limits: Limits) -> list[MetricBatch]:
    """Validate a decoded JSON body and return it as batches of ``limits.max_points_per_record``.

    Raises :class:`EnvelopeError` with every field-level reason found.
    """
    envelope = validate_envelope(body, MetricsEnvelope, "points", "point", limits.max_points_per_batch)
    return _to_batches(envelope, now_ms, limits)


def _to_batches(envelope: MetricsEnvelope, now_ms: int, limits: Limits) -> list[MetricBatch]:
    errors: list[FieldError] = []
    if (problem := check_service(envelope.service, limits)) is not None:
        errors.append(FieldError("service", problem))
    base_labels = envelope.labels or {}
    checked_names: dict[str, str | None] = {}
    groups: dict[tuple[str, MetricKind, tuple[tuple[str, str], ...]], tuple[list[int], list[float]]] = {}
    for i, point in enumerate(envelope.points):
        if point.name not in checked_names:
            checked_names[point.name] = check_metric_name(point.name, limits)
        if (problem := checked_names[point.name]) is not None:
            errors.append(FieldError(f"points[{i}].name", problem))
        value = point.value
        if not abs(value) <= limits.max_abs_value:  # also false for NaN
            errors.append(FieldError(f"points[{i}].value", f"must be finite and within ±{limits.max_abs_value:g}"))
        ts = now_ms
        if point.ts is not None:
            try:
                ts = parse_timestamp_ms(point.ts)
            except ValueError as exc:
                errors.append(FieldError(f"points[{i}].ts", str(exc)))
            else:
                if (problem := check_timestamp(ts, now_ms, limits)) is not None:
                    errors.append(FieldError(f"points[{i}].ts", problem))
        labels = {**base_labels, **point.labels} if point.labels else base_labels
        if (problem := check_labels(labels, limits)) is not None:
            errors.append(FieldError(f"points[{i}].labels", problem))
        if len(errors) >= 100:
            break
        key = (point.name, point.kind, tuple(sorted(labels.items())))
        columns = groups.setdefault(key, ([], []))
        columns[0].append(ts)
        columns[1].append(value)
    if errors:
        raise EnvelopeError("invalid metrics batch", errors)
    series = (
        SeriesPoints(name, kind, dict(labels), np.asarray(ts, np.int64), np.asarray(values, np.float64))
        for (name, kind, labels), (ts, values) in groups.items()
    )
    return list(pack_records(envelope.service, series, limits))
