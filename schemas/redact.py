"""Redaction of secrets before anything is stored: values of sensitive keys in span tags, span logs
and log attributes, and credentials, bearer tokens and card numbers inside free text.

Applied where records enter (the HTTP and OTLP receivers, the SDK) and again by the sink, the one
writer of ClickHouse, so a producer writing to Kafka directly cannot store a secret either.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_SENSITIVE_KEYS", "REDACTED", "Redactor"]

REDACTED = "[REDACTED]"
DEFAULT_SENSITIVE_KEYS = (
    "authorization", "password", "passwd", "secret", "token", "api_key", "apikey", "cookie", "set-cookie",
    "x-api-key", "proxy-authorization", "private_key", "client_secret", "access_token", "refresh_token",
)  # fmt: skip

# Free-text patterns, each replaced keeping enough context to read the line.
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_KEY_VALUE = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token|client[_-]?secret)"
    r"(\s*[=:]\s*|\"\s*:\s*\")([^\s\"&,;]+)"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
# What every pattern above needs somewhere in the text (a superset of their matches): one search
# spares the five substitutions on the usual text, which has none of it. ASCII text is searched
# lowercased, which is faster than ignoring case and the same for ASCII; other text ignoring case,
# as the patterns do (Unicode folds such as "ſ" ~ "s" included).
_MAYBE_SECRET_SOURCE = r"bearer|basic|token|passw|pwd|secret|api[_-]?key|://|eyj|\d(?:[ -]?\d){12}"
_MAYBE_SECRET_ASCII = re.compile(_MAYBE_SECRET_SOURCE)
_MAYBE_SECRET = re.compile(_MAYBE_SECRET_SOURCE, re.IGNORECASE)


@functools.lru_cache(maxsize=65_536)  # attribute names repeat: decide each once
def _sensitive(keys: frozenset[str], key: str) -> bool:
    lowered = key.lower()
    return lowered in keys or any(k in lowered for k in keys)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return f"[CARD ****{digits[-4:]}]"
    return match.group(0)


@dataclass(frozen=True)
class Redactor:
    """Masks secrets. ``keys``: attribute names (case-insensitive; a key containing one of them,
    such as ``http.request.header.authorization``, counts too) whose values are replaced whole."""

    keys: frozenset[str] = frozenset(DEFAULT_SENSITIVE_KEYS)

    @classmethod
    def of(cls, keys: Iterable[str]) -> Redactor:
        return cls(frozenset(k.strip().lower() for k in keys if k.strip()))

    def sensitive(self, key: str) -> bool:
        return _sensitive(self.keys, key)

    def attributes(self, attributes: Mapping[str, str]) -> dict[str, str]:
        """A copy with values of sensitive keys redacted and the rest passed through :meth:`text`."""
        return {key: REDACTED if self.sensitive(key) else self.text(value) for key, value in attributes.items()}

    def text(self, text: str) -> str:
        """Free text with credentials, bearer tokens, JWTs and card numbers (Luhn-valid) masked."""
        if not text:
            return text
        if text.isascii():
            if _MAYBE_SECRET_ASCII.search(text.lower()) is None:
                return text
        elif _MAYBE_SECRET.search(text) is None:
            return text
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        text = _JWT.sub(REDACTED, text)
        return _CARD.sub(_mask_card, text)
