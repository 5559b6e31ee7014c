"""Parsing of timestamps and durations as the API and settings accept them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["parse_duration_ms", "parse_timestamp_ms"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(value: str | int | float) -> int:
    """Return a duration in milliseconds from ``"10s"``, ``"500ms"``, ``"1m"``, ``"2h"``, ``"1d"``.

    A bare number counts as seconds. Raises ``ValueError`` naming the value when it cannot be read
    or is not positive.
    """
    if isinstance(value, bool):
        raise ValueError(f"cannot read duration {value!r}: expected e.g. '10s', '500ms', '1m'")
    if isinstance(value, int | float):
        ms = round(float(value) * 1000)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"cannot read duration {value!r}: expected e.g. '10s', '500ms', '1m'")
        ms = round(float(match.group(1)) * _UNIT_MS[match.group(2) or "s"])
    if ms <= 0:
        raise ValueError(f"cannot use duration {value!r}: it must be positive")
    return ms


def parse_timestamp_ms(value: int | str) -> int:
    """Return epoch milliseconds from an integer (epoch ms) or an RFC 3339 string.

    Raises ``ValueError`` naming the value otherwise. Naive RFC 3339 times (no offset) are UTC.
    """
    if isinstance(value, bool):
        raise ValueError(f"cannot read timestamp {value!r}: expected epoch milliseconds or RFC 3339")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"cannot read timestamp {value!r}: expected epoch milliseconds or RFC 3339") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return round(parsed.timestamp() * 1000)
    raise ValueError(f"cannot read timestamp {value!r}: expected epoch milliseconds or RFC 3339")
