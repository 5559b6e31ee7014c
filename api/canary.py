"""``POST /api/v1/canary``: pass, fail or not-enough-data for a candidate against a baseline.

The two sides are label sets of one distribution metric (``version=1.4`` against ``version=1.5``),
optionally of one service, over the last ``window`` (default 15 minutes, at most 24 hours). Each
side's series merge into one histogram (:func:`storage.canary.label_sample`); the verdict and its
statistics are :func:`api.canary_stats.verdict`'s. Errors are observations whose ``status_code``
starts with 5, as in the RED figures of ``/api/v1/services``. A read: a ``read`` key may ask.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.canary_stats import CanaryPolicy, verdict
from api.catalog import STATUS_LABEL
from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.models_services import MAX_LABEL_TEXT, CanaryRequest, CanaryVerdict
from api.params import now_ms, timestamp_param
from api.responses import FastJSONResponse
from schemas import parse_duration_ms
from storage.canary import Sample, label_sample

__all__ = ["MAX_WINDOW_MS", "router"]

router = APIRouter(prefix="/api/v1", tags=["canary"])

MAX_WINDOW_MS = 24 * 3_600_000  # bounds the rows one verdict reads


def _labels(side: str, labels: dict[str, str]) -> dict[str, str]:
    """The side's labels, each name and value 1..MAX_LABEL_TEXT characters (an empty value would
    match every series lacking the label)."""
    for name, value in labels.items():
        if not (0 < len(name) <= MAX_LABEL_TEXT and 0 < len(value) <= MAX_LABEL_TEXT):
            msg = f"label {name[:64]!r}: name and value must each be 1 to {MAX_LABEL_TEXT} characters"
            raise ApiError(400, "invalid canary request", [{"loc": f"body.{side}", "msg": msg}])
    return labels


def _window_ms(value: str) -> int:
    try:
        window_ms = parse_duration_ms(value)
    except ValueError as exc:
        raise ApiError(400, "invalid canary request", [{"loc": "body.window", "msg": str(exc)}]) from None
    if window_ms > MAX_WINDOW_MS:
        msg = f"window {value!r} is longer than {MAX_WINDOW_MS // 3_600_000}h"
        raise ApiError(400, "invalid canary request", [{"loc": "body.window", "msg": msg}])
    return window_ms


def _check_kind(metric: str, samples: tuple[Sample, Sample]) -> None:
    kinds = {s.kind for s in samples if s.kind}
    if kinds - {"distribution"}:
        msg = f"metric {metric!r} is a {', '.join(sorted(kinds))}: a canary compares distributions (latencies)"
        raise ApiError(400, "invalid canary request", [{"loc": "body.metric", "msg": msg}])


@router.post(
    "/canary",
    summary="Canary verdict: a candidate's latencies and errors against a baseline's",
    response_class=FastJSONResponse,
    response_model=CanaryVerdict,
    responses=error_responses({400: "a field is invalid (named in details), or the metric is not a distribution"}),
)
async def canary(request: CanaryRequest, context: Annotated[ApiContext, Depends(api_context)]) -> FastJSONResponse:
    """``verdict``: ``fail`` when the candidate's p95 is ``p95_threshold`` or more above the
    baseline's and a one-sided Kolmogorov-Smirnov test on the two histograms is significant at
    ``alpha``, or when its error rate is more than ``error_rate_margin`` above the baseline's and a
    one-sided two-proportion z-test is significant; ``not-enough-data`` when a side has fewer than
    ``min_samples`` observations; ``pass`` otherwise. ``reasons`` say which, with the figures."""
    baseline, candidate = _labels("baseline", request.baseline), _labels("candidate", request.candidate)
    window_ms = _window_ms(request.window)
    end_ms = timestamp_param("end", request.end, body=True) if request.end is not None else now_ms()
    start_ms = end_ms - window_ms
    services = [request.service] if request.service else []

    def read(labels: dict[str, str]) -> Sample:
        return label_sample(
            context.store, request.metric, labels, start_ms, end_ms,
            services=services, error_label=STATUS_LABEL, window_ms=context.window_ms,
        )  # fmt: skip

    samples = await asyncio.gather(asyncio.to_thread(read, baseline), asyncio.to_thread(read, candidate))
    _check_kind(request.metric, (samples[0], samples[1]))
    policy = CanaryPolicy(request.p95_threshold, request.alpha, request.min_samples, request.error_rate_margin)
    found: dict[str, Any] = await asyncio.to_thread(verdict, samples[0], samples[1], policy)
    found["baseline"]["labels"], found["candidate"]["labels"] = baseline, candidate
    body = {**found, "metric": request.metric, "service": request.service, "start": start_ms, "end": end_ms}
    return FastJSONResponse(body)
