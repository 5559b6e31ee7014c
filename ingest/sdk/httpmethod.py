"""HTTP method names as metric label values: the standard methods, anything else one bucket."""

from __future__ import annotations

from typing import Final

__all__ = ["OTHER_METHOD", "method_label"]

OTHER_METHOD: Final = "_OTHER"  # OpenTelemetry's name for a method outside the standard ones
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


def method_label(method: str) -> str:
    """``method`` upper-cased when standard, else ``_OTHER``: a caller choosing methods must not be
    able to create series."""
    upper = method.upper()
    return upper if upper in _METHODS else OTHER_METHOD
