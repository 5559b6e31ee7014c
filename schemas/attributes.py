"""Attributes of spans, span logs and log records: any scalar in, text stored, sizes checked.

Span tags and log attributes are stored as text (``dict[str, str]``). Every ingest path (the SDK, the
HTTP envelope, OTLP) turns a scalar into text the same way, with :func:`attribute_text`, and checks
the result with :func:`check_attributes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import orjson

from schemas.limits import Limits

__all__ = ["attribute_text", "check_attributes", "text_bytes"]


def attribute_text(value: object) -> str:
    """The text stored for a scalar: strings as they are, booleans ``true``/``false``, ``null`` for
    None, numbers as JSON writes them (non-finite floats as ``NaN``/``Infinity``/``-Infinity``),
    anything else (lists, objects) as compact JSON, falling back to ``str()``."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return orjson.dumps(value).decode()
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(value)


def text_bytes(text: str) -> int:
    """UTF-8 size of ``text``, cheaply for ASCII (the common case)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def check_attributes(attributes: Mapping[str, str], limits: Limits, what: str = "tags") -> str | None:
    """None when ``attributes`` fit the limits (count, key and value lengths), else the reason."""
    if len(attributes) > limits.max_span_attributes:
        return f"{len(attributes)} {what}, the limit is {limits.max_span_attributes}"
    for key, value in attributes.items():
        if not key:
            return f"{what} must not have an empty name"
        if len(key) > limits.max_label_key_length:
            return f"{what} name {key[:40]!r}... is longer than {limits.max_label_key_length} characters"
        if len(value) > (limit := limits.max_attribute_value_length):
            return f"{what} {key!r} value is {len(value)} characters long, the limit is {limit}"
    return None
