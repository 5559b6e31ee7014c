"""Counting the query route's runs: which requests reached ``api.query.run_query`` (the route) and
which were answered before it (the short path, api/httpcache.py)."""

from __future__ import annotations

from typing import Any

import pytest

from api import query as query_module


def count_query_runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The arguments of each ``run_query`` call from now on (the real one still answers)."""
    ran: list[Any] = []
    real = query_module.run_query

    async def counting(*args: Any) -> Any:
        ran.append(args)
        return await real(*args)

    monkeypatch.setattr(query_module, "run_query", counting)
    return ran
