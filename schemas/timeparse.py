"""Parsing of timestamps and durations as the API and settings accept them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from schemas.limits import MAX_DURATION_MS

__all__ = ["parse_duration_ms", "parse_timestamp_ms", "parse_timestamp_ns"]

# Possessive quantifiers: the spaces on both sides of the optional unit cannot trade characters, which
# made "1" + 16,000 spaces + "x" cost 1.3 s (quadratic).
_DURATION = re.compile(r"^\s*+(\d++(?:\.\d++)?)\s*+(ms|s|m|h|d)?\s*+$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_EPOCH_MS_TEXT = re.compile(r"^-?\d+(?:\.\d+)?$")
# RFC 3339 with up to nanosecond digits (datetime keeps microseconds only, so the fraction is read apart).
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?([Zz]|[+-]\d{2}:\d{2})?$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_duration_ms(value: str | int | float) -> int:
    """Return a duration in milliseconds from ``"10s"``, ``"500ms"``, ``"1m"``, ``"2h"``, ``"1d"``.

    A bare number counts as seconds. Raises ``ValueError`` naming the value when it cannot be read,
    is not positive, or is longer than :data:`~schemas.limits.MAX_DURATION_MS` (infinity included).
    """
    if isinstance(value, bool):
        raise ValueError(f"cannot read duration {value!r}: expected e.g. '10s', '500ms', '1m'")
    amount: int | float
    if isinstance(value, int | float):
        amount, unit_ms = value, 1000  # an int stays exact (float() of a huge one raises)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"cannot read duration {value!r}: expected e.g. '10s', '500ms', '1m'")
        amount, unit_ms = float(match.group(1)), _UNIT_MS[match.group(2) or "s"]
    if not amount * unit_ms <= MAX_DURATION_MS:  # NaN and infinity too, which round() cannot take
        raise ValueError(f"cannot use duration {value!r}: the limit is {MAX_DURATION_MS} ms (292 years)")
    ms = round(amount * unit_ms)
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


def parse_timestamp_ns(value: int | float | str) -> int:
    """Return epoch nanoseconds from epoch milliseconds (an integer, a fractional number, or the same
    as text) or an RFC 3339 string (nanosecond digits kept; no offset means UTC).

    Raises ``ValueError`` naming the value otherwise (booleans, non-finite numbers, other text).
    """
    if isinstance(value, bool):
        raise ValueError(f"cannot read timestamp {value!r}: expected epoch milliseconds or RFC 3339")
    if isinstance(value, int):
        return value * 1_000_000
    if isinstance(value, float):
        if value - value != 0.0:  # NaN or infinity
            raise ValueError(f"cannot read timestamp {value!r}: expected epoch milliseconds or RFC 3339")
        whole = int(value)  # exact; the fraction of a ~1.8e12 float holds about a quarter microsecond
        return whole * 1_000_000 + round((value - whole) * 1_000_000)
    if isinstance(value, str):
        text = value.strip()
        if _EPOCH_MS_TEXT.match(text):
            whole_text, _, fraction = text.partition(".")
            whole = int(whole_text)
            sub_ms = int((fraction + "000000")[:6]) if fraction else 0
            return whole * 1_000_000 + (-sub_ms if whole_text.startswith("-") else sub_ms)
        match = _RFC3339.match(text)
        if match is not None:
            base, fraction, offset = match.groups()
            try:
                parsed = datetime.fromisoformat(base.replace("t", "T") + (offset or "+00:00").replace("z", "Z"))
            except ValueError:
                pass
            else:
                seconds = (parsed.astimezone(UTC) - _EPOCH) // timedelta(seconds=1)
                return seconds * 1_000_000_000 + (int(fraction.ljust(9, "0")) if fraction else 0)
    raise ValueError(f"cannot read timestamp {value!r}: expected epoch milliseconds or RFC 3339")
