"""Bound instruments: one metric series (name, kind and labels fixed once), recorded by one call.

Made by :meth:`Emitter.bind_distribution <ingest.sdk.emitter.Emitter.bind_distribution>`,
:meth:`~ingest.sdk.emitter.Emitter.bind_counter` and :meth:`~ingest.sdk.emitter.Emitter.bind_gauge`,
which check the name and labels once. A recording call then checks only its value (a number within
``±limits.max_abs_value``, which also refuses NaN and infinity; a counter's increment not negative) and
its timestamp when one is given, and appends the point to the series' open columns in the emitter's
bounded :class:`~ingest.sdk.buffer.PointBuffer`: no lookup, no label handling, no allocation but the
columns' own growth. The unbound calls (``emitter.observe(name, value, **labels)``) find a cached
instrument by name and labels and record through it.
"""

from __future__ import annotations

from functools import partial
from time import time_ns
from typing import Final, Protocol, cast

import numpy as np
import numpy.typing as npt

from ingest.sdk.buffer import PointBuffer, Record, Series
from ingest.sdk.timer import Timer
from schemas import MetricKind

__all__ = ["BoundCounter", "BoundDistribution", "BoundGauge", "CheckTs"]


class CheckTs(Protocol):
    """Checks ``ts_ms`` of series ``name`` against ``now_ms`` (default now): returns it, or raises
    ``ValueError`` naming both."""

    def __call__(self, name: str, ts_ms: int, now_ms: int | None = None, /) -> int: ...


_MS: Final = 1_000_000  # nanoseconds per millisecond


def _value_error(kind: MetricKind, name: str, value: object, *, max_abs: float) -> Exception:
    """The error for a refused value: ValueError naming the series and the value, TypeError for a
    non-number."""
    try:
        negative = cast(float, value) < 0
        in_range = -max_abs <= cast(float, value) <= max_abs
    except TypeError:
        return TypeError(f"value of {name!r} must be a number, got {value!r}")
    if kind is MetricKind.COUNTER and negative and in_range:
        return ValueError(f"counter {name!r} increment must not be negative, got {value!r}")
    return ValueError(f"value of {name!r} must be finite and within ±{max_abs:g}, got {value!r}")


class _Bound:
    """What every bound instrument holds: its series, the buffer, its recording function and limits."""

    __slots__ = ("_buffer", "_check_ts", "_max", "_record", "_series", "labels", "name")

    def __init__(self, buffer: PointBuffer, series: Series, check_ts: CheckTs, max_abs: float) -> None:
        self.name = series.name
        self.labels = dict(series.labels)  # merged with the emitter's default labels
        self._series = series
        self._buffer = buffer
        self._check_ts = check_ts
        self._max = max_abs
        low = 0.0 if series.kind is MetricKind.COUNTER else -max_abs
        # record(value, ts_ms=None): checks the value and timestamp and appends, in one frame.
        self._record: Record = buffer.recorder(
            series, low, max_abs, partial(_value_error, series.kind, series.name, max_abs=max_abs),
            partial(check_ts, series.name),
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.labels!r})"


class BoundDistribution(_Bound):
    """A distribution series: each value is one observation (a latency in ms, a size). Thread-safe.

    ``observe(value, ts_ms=None)`` records one observation: ``value`` a number within
    ``±limits.max_abs_value`` (NaN and infinity are refused), ``ts_ms`` epoch ms (default now) within
    the limits' skew window. It raises ``ValueError`` (``TypeError`` for a non-number) naming the
    series and the value, and never blocks: a point that does not fit is dropped and counted.
    """

    __slots__ = ("observe",)

    def __init__(self, buffer: PointBuffer, series: Series, check_ts: CheckTs, max_abs: float) -> None:
        super().__init__(buffer, series, check_ts, max_abs)
        self.observe: Record = self._record  # an attribute, not a method: one call, one frame

    def observe_many(self, values: npt.ArrayLike, /, *, ts_ms: int | npt.ArrayLike | None = None) -> int:
        """Record many observations at once; return how many were kept (the rest did not fit in the
        buffer and are counted as dropped). ``values``: a 1-D sequence or array of numbers within
        ``±limits.max_abs_value``. ``ts_ms``: one timestamp for all (default now) or one per value."""
        vals = np.ascontiguousarray(values, dtype=np.float64)
        if vals.ndim != 1:
            raise ValueError(f"values of {self.name!r} must be one-dimensional, got shape {vals.shape}")
        ok = np.abs(vals) <= self._max  # also false for NaN
        if not ok.all():
            bad = int(np.argmin(ok))
            raise ValueError(
                f"values of {self.name!r} must be finite and within ±{self._max:g}, got {vals[bad]!r} at index {bad}"
            )
        n = len(vals)
        now = time_ns() // _MS
        if ts_ms is None or np.ndim(ts_ms) == 0:
            ts_one = now if ts_ms is None else self._check_ts(self.name, cast(int, ts_ms), now)
            ts = np.full(n, ts_one, dtype=np.int64)
        else:
            ts = np.ascontiguousarray(ts_ms, dtype=np.int64)
            if ts.shape != vals.shape:
                raise ValueError(f"ts_ms of {self.name!r} must hold one timestamp per value ({n}), got {ts.shape}")
            if n:
                self._check_ts(self.name, int(ts.min()), now)
                self._check_ts(self.name, int(ts.max()), now)
        return self._buffer.extend(self._series, vals, ts) if n else 0

    def timer(self) -> Timer:
        """A :class:`~ingest.sdk.timer.Timer` recording elapsed milliseconds into this series."""
        return Timer(self._record)


class BoundCounter(_Bound):
    """A counter series: each value is an increment; perfpulse reports sums and rates. Thread-safe."""

    __slots__ = ()

    def add(self, value: float = 1.0, /, ts_ms: int | None = None) -> None:
        """Add an increment (default 1) in ``0..limits.max_abs_value``; otherwise as
        :class:`BoundDistribution`'s ``observe``."""
        self._record(value, ts_ms)


class BoundGauge(_Bound):
    """A gauge series: each value is a sampled level (queue length, bytes in use). Thread-safe.

    ``set(value, ts_ms=None)`` records the current level, checked as :class:`BoundDistribution`'s
    ``observe``."""

    __slots__ = ("set",)

    def __init__(self, buffer: PointBuffer, series: Series, check_ts: CheckTs, max_abs: float) -> None:
        super().__init__(buffer, series, check_ts, max_abs)
        self.set: Record = self._record
