"""Reading query parameters: times, durations, lists; errors name the parameter and the value."""

from __future__ import annotations

import time
from typing import Annotated

from pydantic import AfterValidator

from api.errors import ApiError
from schemas import parse_duration_ms, parse_timestamp_ms
from schemas.limits import check_epoch_ms
from schemas.spans import TRACE_ID

__all__ = [
    "MAX_RANGE_MS",
    "Utf8",
    "csv_param",
    "duration_param",
    "now_ms",
    "parse_trace_id",
    "time_range",
    "timestamp_param",
    "whole_seconds",
    "window_bounds",
]

_ZERO_TRACE = "0" * 32
# Longest range one request may read: the hourly tier's default retention (settings.tier_1h_ttl_days).
MAX_RANGE_MS = 400 * 86_400_000


def _encodable(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"character {exc.start} is a lone surrogate (U+{ord(value[exc.start]):04X}), not text"
        ) from None
    return value


# Text of a JSON body that can be stored: Python's json module reads lone surrogates ("\ud800"),
# which no UTF-8 store, file or Kafka record can hold.
Utf8 = Annotated[str, AfterValidator(_encodable)]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def timestamp_param(name: str, value: int | str, body: bool = False) -> int:
    """Epoch ms from epoch ms or RFC 3339, within what the store holds (1970 to 2262); else a 400
    naming ``query.<name>`` (``body.<name>`` for a field of a JSON body)."""
    try:
        ms = parse_timestamp_ms(value)
        if (problem := check_epoch_ms(ms, name)) is not None:
            raise ValueError(problem)
    except ValueError as exc:
        if body:
            raise ApiError(400, f"invalid {name}", [{"loc": f"body.{name}", "msg": str(exc)}]) from None
        raise ApiError.bad_param(name, str(exc)) from None
    return ms


def time_range(
    start: str | None, end: str | None, default_span_ms: int, max_span_ms: int = MAX_RANGE_MS
) -> tuple[int, int]:
    """``[start, end)`` in epoch ms; ``end`` defaults to now and ``start`` to ``end - default_span_ms``.
    A 400 names ``start`` when the range is empty or longer than ``max_span_ms``."""
    end_ms = timestamp_param("end", end) if end else now_ms()
    start_ms = timestamp_param("start", start) if start else end_ms - default_span_ms
    if start_ms >= end_ms:
        raise ApiError.bad_param("start", f"start {start_ms} must be before end {end_ms}")
    if end_ms - start_ms > max_span_ms:
        days = (end_ms - start_ms) / 86_400_000
        msg = f"the range is {days:.1f} days long, the limit is {max_span_ms / 86_400_000:g} days (range bound)"
        raise ApiError.bad_param("start", msg)
    return start_ms, end_ms


def window_bounds(start_ms: int, end_ms: int, window_ms: int) -> tuple[int, int]:
    """``[start_ms, end_ms)`` with both ends rounded up to a multiple of ``window_ms``: no window
    starting at such a multiple lies in between, so windows selected by their start are the same."""
    return -(-start_ms // window_ms) * window_ms, -(-end_ms // window_ms) * window_ms


def whole_seconds(bounds: tuple[int, int]) -> tuple[int, int]:
    """``bounds`` (epoch ms) rounded up to whole seconds: polled reads whose ranges differ by a few
    milliseconds (``end`` defaults to now) share one answer, kept a second."""
    return window_bounds(*bounds, 1_000)


def duration_param(name: str, value: str) -> int:
    try:
        return parse_duration_ms(value)
    except ValueError as exc:
        raise ApiError.bad_param(name, str(exc)) from None


def csv_param(value: str | None) -> list[str]:
    """``"a,b , c"`` -> ``["a", "b", "c"]``; empty or missing -> ``[]``."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_trace_id(value: str, loc: str) -> str:
    """A trace id as stored (32 lowercase hex digits, not all zero; upper case is accepted); a 400
    naming ``loc`` (``path.trace_id``, ``query.trace_id``) otherwise."""
    trace_id = value.strip().lower()
    if not TRACE_ID.match(trace_id) or trace_id == _ZERO_TRACE:
        msg = f"{value!r} is not 32 hex digits (a W3C trace id, not all zero)"
        raise ApiError(400, "invalid trace id", [{"loc": loc, "msg": msg}])
    return trace_id
