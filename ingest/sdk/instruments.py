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

from collections.abc import Callable
from time import time_ns
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from ingest.sdk.buffer import PointBuffer, Series
from ingest.sdk.timer import Timer

__all__ = ["BoundCounter", "BoundDistribution", "BoundGauge", "CheckTs"]

CheckTs = Callable[[str, int, int | None], int]  # (name, ts_ms, now_ms or None) -> ts_ms, else ValueError

_MS: Final = 1_000_000  # nanoseconds per millisecond


def _value_error(kind: str, name: str, value: object, max_abs: float) -> Exception:
    """The error for a refused value: ValueError naming the series and the value, TypeError for a
    non-number."""
    try:
        negative = cast(float, value) < 0
        in_range = -max_abs <= cast(float, value) <= max_abs
    except TypeError:
        return TypeError(f"value of {name!r} must be a number, got {value!r}")
    if kind == "counter" and negative and in_range:
        return ValueError(f"counter {name!r} increment must not be negative, got {value!r}")
    return ValueError(f"value of {name!r} must be finite and within ±{max_abs:g}, got {value!r}")


class _Bound:
    """What every bound instrument holds: its series, the buffer and the checks' limits."""

    __slots__ = ("_append", "_buffer", "_check_ts", "_max", "_min", "_series", "labels", "name")

    def __init__(self, buffer: PointBuffer, series: Series, check_ts: CheckTs, max_abs: float) -> None:
        self.name = series.name
        self.labels = dict(series.labels)  # merged with the emitter's default labels
        self._series = series
        self._buffer = buffer
        self._append = buffer.append  # bound once: the per-call path does no attribute lookup on the buffer
        self._check_ts = check_ts
        self._max = max_abs
        self._min = -max_abs  # negated once here, not per call

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.labels!r})"

    def _record(self, value: float, /, ts_ms: int | None = None) -> None:
        """Record one value within ``±limits.max_abs_value``; ``ts_ms``: epoch ms (default now) within
        the limits' skew window. Raises ``ValueError`` (``TypeError`` for a non-number) naming the
        series and the value; never blocks (a point that does not fit is dropped and counted)."""
        try:
            ok = self._min <= value <= self._max  # also false for NaN
        except TypeError:
            ok = False
        if not ok:
            raise _value_error("value", self.name, value, self._max)
        self._append(self._series, value, time_ns() // _MS if ts_ms is None else self._check_ts(self.name, ts_ms, None))


class BoundDistribution(_Bound):
    """A distribution series: each value is one observation (a latency in ms, a size). Thread-safe."""

    __slots__ = ()

    observe = _Bound._record  # one observation

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
        return Timer(self._append, self._series)


class BoundCounter(_Bound):
    """A counter series: each value is an increment; perfpulse reports sums and rates. Thread-safe."""

    __slots__ = ()

    def add(self, value: float = 1.0, /, ts_ms: int | None = None) -> None:
        """Add an increment (default 1) in ``0..limits.max_abs_value``; otherwise as
        :meth:`BoundDistribution.observe`."""
        try:
            ok = 0 <= value <= self._max  # also false for NaN
        except TypeError:
            ok = False
        if not ok:
            raise _value_error("counter", self.name, value, self._max)
        self._append(self._series, value, time_ns() // _MS if ts_ms is None else self._check_ts(self.name, ts_ms, None))

    _record = add  # what Emitter._append calls, whatever the kind


class BoundGauge(_Bound):
    """A gauge series: each value is a sampled level (queue length, bytes in use). Thread-safe."""

    __slots__ = ()

    set = _Bound._record  # the current level
