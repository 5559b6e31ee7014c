"""Counting the query route's runs: which requests reached ``api.query.run_query`` (the route) and
which were answered before it (the short path, api/httpcache.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from api import cache as cache_module
from api import query as query_module


def count_query_runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The arguments of each ``run_query`` call from now on (the real one still answers).

    The query cache's wall clock is held at this instant meanwhile: a kept answer is current within
    its window period only (api/cache.py), and with 1 s windows two requests on either side of a
    second's end ran the route twice (seen once in a full CI run). Its other clocks run as usual."""
    ran: list[Any] = []
    real = query_module.run_query

    async def counting(*args: Any) -> Any:
        ran.append(args)
        return await real(*args)

    now_ns = time.time_ns()
    held = SimpleNamespace(time_ns=lambda: now_ns, perf_counter=time.perf_counter, monotonic=time.monotonic)
    monkeypatch.setattr(cache_module, "time", held)
    monkeypatch.setattr(query_module, "run_query", counting)
    return ran
