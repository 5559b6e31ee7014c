"""Keeping channel secrets out of logs, reprs, errors and recorded attempts.

Webhook URLs are secrets too: a Slack incoming-webhook URL carries its token in the path, a generic
webhook often in the query string. So a URL is stored as a :class:`Secret` and shown only through
:func:`redact_url`, which keeps scheme, host and port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["Secret", "redact_text", "redact_url"]

_MASK = "****"


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that never shows in ``repr``/``str``; :meth:`reveal` returns it for use."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK})"

    def __str__(self) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)


def redact_url(url: str | Secret) -> str:
    """``scheme://host[:port]/****``: no user info, path, query or fragment (any may hold a token)."""
    text = url.reveal() if isinstance(url, Secret) else url
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return _MASK
    if not parts.scheme or not host:
        return _MASK
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    has_more = bool(parts.path.strip("/") or parts.query or parts.fragment)
    return f"{parts.scheme}://{netloc}/{_MASK if has_more else ''}"


def redact_text(text: str, secrets: tuple[str | Secret, ...]) -> str:
    """``text`` with every occurrence of each secret (and of each secret URL) masked.

    For exception messages from HTTP and SMTP libraries, which quote the URL or credentials they used.
    """
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if len(value) >= 4:
            replacement = redact_url(value) if "://" in value else _MASK
            text = text.replace(value, replacement)
    return text
