"""The samples ``python -m bench.compare`` feeds both perfpulse and VictoriaMetrics, and the exact
answers (numpy) their query answers are held against.

``n`` samples of 12 series (3 services x 4 routes, the names of :mod:`bench.sender`) over
:data:`SPAN_MS` (50 minutes) from ``t0_ms``: sample ``i`` belongs to series ``i % 12`` at
``t0_ms + i * SPAN_MS // n``, so timestamps rise with ``i`` and are distinct within a series while
``n <= 12 * SPAN_MS`` (36M). Values: a lognormal body per series (its median grows with the route
and the service) and a Pareto(1.5) tail for 2 % of the samples, rounded to the microsecond so that
both systems receive the very same numbers through their different encodings. The same ``(n, seed,
t0_ms)`` gives the same samples in every process: the senders regenerate them instead of receiving
10M values."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from bench.sender import ROUTES, SERVICES

__all__ = [
    "INTERPOLATED",
    "NEAREST_RANK",
    "SERIES",
    "SPAN_MS",
    "STEP_MS",
    "Samples",
    "data_start",
    "exact_quantile",
    "exact_steps",
    "generate",
    "relative_error",
]

SPAN_MS = 50 * 60_000
STEP_MS = 10_000  # perfpulse's window and the per-step query's step
SERIES: tuple[tuple[str, str], ...] = tuple((service, route) for service in SERVICES for route in ROUTES)
Method = Literal["inverted_cdf", "linear"]
NEAREST_RANK: Method = "inverted_cdf"
INTERPOLATED: Method = "linear"
TAIL_SHARE = 0.02
TAIL_ALPHA = 1.5


@dataclass(frozen=True)
class Samples:
    """Columns of the samples, in time order: epoch ms, index into :data:`SERIES`, value (ms)."""

    ts_ms: npt.NDArray[np.int64]
    series: npt.NDArray[np.int16]
    values: npt.NDArray[np.float64]

    def of(self, service: str, route: str | None = None) -> npt.NDArray[np.bool_]:
        """Mask of the samples of ``service`` (one route, or all of its routes)."""
        chosen = [k for k, (s, r) in enumerate(SERIES) if s == service and route in (None, r)]
        if not chosen:
            raise ValueError(f"no series of service {service!r} and route {route!r}")
        return np.isin(self.series, chosen)


def data_start(now_ms: int) -> int:
    """The first timestamp: a whole minute, such that the last sample is at least a minute old
    (VictoriaMetrics hides the last 30 s from queries by default, ``-search.latencyOffset``)."""
    return (now_ms - 60_000 - SPAN_MS) // 60_000 * 60_000


def generate(n: int, seed: int, t0_ms: int) -> Samples:
    """``n`` samples from ``seed`` starting at ``t0_ms`` (see the module's contract)."""
    if not 1 <= n <= len(SERIES) * SPAN_MS:
        raise ValueError(f"samples must be in 1..{len(SERIES) * SPAN_MS} (distinct ms per series), got {n}")
    rng = np.random.default_rng(seed)
    index = np.arange(n, dtype=np.int64)
    series = (index % len(SERIES)).astype(np.int16)
    service_of = np.array([SERVICES.index(s) for s, _ in SERIES])[series]
    route_of = np.array([ROUTES.index(r) for _, r in SERIES])[series]
    median = np.exp(3.0 + 0.25 * route_of + 0.4 * service_of)
    body = median * rng.lognormal(0.0, 0.5, n)
    tail = median * 4.0 * (rng.pareto(TAIL_ALPHA, n) + 1.0)
    values = np.round(np.where(rng.random(n) < TAIL_SHARE, tail, body), 3).astype(np.float64)
    return Samples(t0_ms + index * SPAN_MS // n, series, values)


def exact_quantile(values: npt.NDArray[np.float64], q: float, method: Method = NEAREST_RANK) -> float:
    """The exact level-``q`` quantile of ``values``. :data:`NEAREST_RANK` is perfpulse's definition,
    the ``ceil(q * n)``-th smallest value; :data:`INTERPOLATED` is VictoriaMetrics' (and
    Prometheus') ``quantile_over_time``, linear between the values at ranks around ``q * (n - 1)``."""
    if len(values) == 0:
        raise ValueError("no values to take a quantile of")
    return float(np.quantile(values, q, method=method))


def exact_steps(
    samples: Samples, mask: npt.NDArray[np.bool_], t0_ms: int, q: float, method: Method = NEAREST_RANK
) -> npt.NDArray[np.float64]:
    """The exact level-``q`` quantile of the masked samples in each :data:`STEP_MS` step
    ``[t0_ms + k * STEP_MS, t0_ms + (k + 1) * STEP_MS)`` of the span; NaN for a step without one."""
    steps = SPAN_MS // STEP_MS
    ts, values = samples.ts_ms[mask], samples.values[mask]
    which = (ts - t0_ms) // STEP_MS
    bounds = np.searchsorted(which, np.arange(steps + 1))  # timestamps rise, so steps are runs
    return np.array(
        [exact_quantile(values[a:b], q, method) if b > a else np.nan for a, b in itertools.pairwise(bounds.tolist())]
    )


def relative_error(answer: float, exact: float) -> float:
    """``|answer - exact| / |exact|``; the exact value must not be zero."""
    if exact == 0:
        raise ValueError(f"relative error against an exact value of 0 (answer {answer!r})")
    return abs(answer - exact) / abs(exact)
