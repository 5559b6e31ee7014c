"""What the SDK's middleware tests read back from a running perfpulse: counts by label, whole traces."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Deployment, wait_for


def counts_by(deployment: Deployment, metric: str, service: str, labels: str, expected: int) -> dict[str, int]:
    """Observation counts of ``metric`` of ``service`` grouped by ``labels`` (comma-separated), keyed
    ``"value value ..."``, once ``expected`` groups are stored."""
    found: dict[str, int] = {}
    now_ms = int(time.time() * 1000)

    def stored() -> bool:
        response = deployment.get(
            "/api/v1/query", metric=metric, service=service, start=now_ms - 600_000, end=now_ms + 600_000,
            stats="count", group_by=labels,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        series = response.json()["series"]
        found.clear()
        for s in series:
            key = " ".join(s["group"][name] for name in labels.split(","))
            found[key] = sum(p["count"] for p in s["points"])
        return len(series) == expected

    try:
        wait_for(stored, 90, f"{expected} groups of {metric} of {service}", interval_s=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen {found}") from None
    return found


def stored_trace(deployment: Deployment, trace_id: str, spans: int) -> list[dict[str, Any]]:
    """The spans of trace ``trace_id`` once all ``spans`` are stored."""
    found: list[dict[str, Any]] = []

    def complete() -> bool:
        response = deployment.get(f"/api/v1/traces/{trace_id}")
        if response.status_code == 200:
            found[:] = response.json()["spans"]
        return len(found) == spans

    wait_for(complete, 90, f"trace {trace_id} with {spans} spans")
    return found
