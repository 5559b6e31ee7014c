"""OpenAPI models of the service health score and the canary verdict (request and answers).

As in :mod:`api.models`: routes return the dicts they build, these models document them and forbid
unknown fields, so tests that validate real answers against them catch any drift. Durations are
milliseconds (the unit of ``http.server.duration``), rates are fractions (0.001 is 0.1 %).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CanaryChange",
    "CanaryPolicyOut",
    "CanaryRequest",
    "CanarySide",
    "CanaryTests",
    "CanaryVerdict",
    "FiringAlert",
    "HealthTargets",
    "InstanceHealth",
    "ServiceHealth",
]

MAX_LABELS = 16  # labels per side of a canary request
MAX_LABEL_TEXT = 256  # characters of a label name or value


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- GET /api/v1/services/{service}/health


class HealthTargets(_Out):
    """What a healthy service meets (the spec's API targets)."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float


class FiringAlert(_Out):
    rule: str
    severity: str
    fingerprint: str
    since: int | None = Field(description="epoch ms it fired")


class InstanceHealth(_Out):
    """The score of one service or instance and what it rests on."""

    instance: str | None = Field(description="the instance label; null: the whole service")
    score: float = Field(ge=0.0, le=1.0, description="1 healthy .. 0: the lowest factor of the reasons")
    requests: int = Field(description="http.server.duration observations in the window")
    errors: int = Field(description="of them with status_code 5xx")
    error_rate: float | None = Field(description="errors / requests; null without requests")
    p50: float | None = Field(description="ms; null without requests")
    p95: float | None
    p99: float | None
    alerts: list[FiringAlert] = Field(description="firing alerts on it, not silenced nor inhibited")
    reasons: list[str] = Field(description="each figure that lowers the score, with its factor")


class ServiceHealth(_Out):
    service: str
    start: int = Field(description="start of the window read, epoch ms (inclusive)")
    end: int = Field(description="end of the window read, epoch ms (exclusive)")
    score: float = Field(ge=0.0, le=1.0, description="the service's, or the lowest of the instances asked for")
    targets: HealthTargets
    health: list[InstanceHealth] = Field(description="the service, or each instance asked for, in the order asked")


# --- POST /api/v1/canary


class CanaryRequest(BaseModel):
    """Compare the candidate's observations of ``metric`` with the baseline's over the last ``window``."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=MAX_LABEL_TEXT, examples=["http.server.duration"])
    baseline: dict[str, str] = Field(
        min_length=1,
        max_length=MAX_LABELS,
        description="labels of the baseline's series",
        examples=[{"version": "1.4"}],
    )
    candidate: dict[str, str] = Field(
        min_length=1,
        max_length=MAX_LABELS,
        description="labels of the candidate's series",
        examples=[{"version": "1.5"}],
    )
    service: str | None = Field(
        default=None, min_length=1, max_length=MAX_LABEL_TEXT, description="only this service's series"
    )
    window: str = Field(default="15m", max_length=32, description="how far back from end: 15m, 1h (at most 24h)")
    end: int | str | None = Field(default=None, description="epoch ms or RFC 3339; default now")
    p95_threshold: float = Field(default=0.10, gt=0.0, le=10.0, description="relative p95 rise that fails")
    alpha: float = Field(default=0.01, gt=0.0, lt=0.5, description="significance level of both tests")
    min_samples: int = Field(default=100, ge=10, le=10_000_000, description="observations each side needs")
    error_rate_margin: float = Field(default=0.001, ge=0.0, lt=1.0, description="absolute error rate rise that fails")


class CanarySide(_Out):
    labels: dict[str, str]
    count: int = Field(description="observations")
    errors: int = Field(description="of them with status_code 5xx")
    error_rate: float | None = Field(description="null without observations")
    p50: float | None
    p95: float | None
    p99: float | None


class CanaryChange(_Out):
    """Candidate against baseline: percentiles relative (0.1: 10 % higher), the error rate absolute."""

    p50: float | None
    p95: float | None
    p99: float | None
    error_rate: float | None


class CanaryTests(_Out):
    ks_d_plus: float = Field(description="one-sided KS statistic: how far the candidate's CDF lags the baseline's")
    ks_p_value: float = Field(description="asymptotic p-value of ks_d_plus (candidate not slower)")
    error_z: float = Field(description="two-proportion z of the candidate's error rate over the baseline's")
    error_p_value: float


class CanaryPolicyOut(_Out):
    p95_threshold: float
    alpha: float
    min_samples: int
    error_rate_margin: float


class CanaryVerdict(_Out):
    verdict: Literal["pass", "fail", "not-enough-data"]
    reasons: list[str]
    metric: str
    service: str | None
    start: int = Field(description="epoch ms (inclusive)")
    end: int = Field(description="epoch ms (exclusive)")
    baseline: CanarySide
    candidate: CanarySide
    change: CanaryChange
    tests: CanaryTests | None = Field(description="null without a verdict (not-enough-data)")
    policy: CanaryPolicyOut
