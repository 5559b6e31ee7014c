"""The JSON shape of every HTTP error perfpulse returns: ``{"error": ..., "details": [...]}``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["error_body"]


def error_body(error: str, details: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """``error`` says what failed in a sentence; each detail names a field (``loc``) and a reason (``msg``)."""
    return {"error": error, "details": [dict(d) for d in details]}
