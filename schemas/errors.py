"""The JSON shape of every HTTP error perfpulse returns: ``{"error": ..., "details": [...]}``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ErrorBody", "ErrorDetail", "error_body"]


class ErrorDetail(BaseModel):
    """One reason: the offending field (``loc``, e.g. ``query.step``, ``points[3].value``, ``body``)
    and what is wrong with it (``msg``)."""

    model_config = ConfigDict(extra="forbid")

    loc: str
    msg: str


class ErrorBody(BaseModel):
    """The OpenAPI model of what :func:`error_body` builds (responses are built as dicts, not
    through this model)."""

    model_config = ConfigDict(extra="forbid")

    error: str
    details: list[ErrorDetail]


def error_body(error: str, details: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """``error`` says what failed in a sentence; each detail names a field (``loc``) and a reason (``msg``)."""
    return {"error": error, "details": [dict(d) for d in details]}
