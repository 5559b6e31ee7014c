"""``${VAR}`` substitution in channel settings of the rules file.

``${VAR}`` is the variable's value, ``${VAR:-default}`` the default when it is unset or empty, and
``$$`` a literal ``$``. Only values under ``channels:`` are substituted: rules stay the same on every
machine, while URLs and keys come from each deployment's environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["references", "substitute"]

_REFERENCE = re.compile(r"\$\$|\$\{([^}]*)(\})?")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with references replaced, and the names of the variables that were unset.

    An unset variable without a default becomes ``""`` and is reported; the caller decides what a
    missing value means. Raises ``ValueError`` (offset in the message) for a malformed reference
    such as ``${`` without ``}`` or ``${1X}``.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        body, closed = match.group(1), match.group(2)
        if closed is None:
            raise ValueError(f"unclosed '${{' at character {match.start() + 1}: expected '}}'")
        name, sep, default = body.partition(":-")
        if not _VAR_NAME.fullmatch(name):
            raise ValueError(f"invalid variable name {name!r} in '${{{body}}}' at character {match.start() + 1}")
        value = env.get(name, "")
        if value:
            return value
        if sep:
            return default
        missing.append(name)
        return ""

    return _REFERENCE.sub(replace, text), missing


def references(text: str) -> list[str]:
    """Names of the variables ``text`` refers to, in order; raises ``ValueError`` as :func:`substitute`.

    For checking text without resolving it (text from outside must never see the environment).
    """
    substitute(text, {})  # the syntax check
    return [m.group(1).partition(":-")[0] for m in _REFERENCE.finditer(text) if m.group(0) != "$$"]
