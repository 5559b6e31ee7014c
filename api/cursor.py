"""Opaque keyset cursors: the sort key of a page's last item, URL-safe, tagged with what it pages.

A client passes ``next_cursor`` back as ``cursor`` to get the next page; it never reads one. The tag
keeps a logs cursor from being read as a traces cursor (answered 400, like a cursor someone edited).
"""

from __future__ import annotations

import base64
import binascii

import orjson

from api.errors import ApiError

__all__ = ["decode_cursor", "encode_cursor"]

Key = tuple[int | str, ...]


def encode_cursor(kind: str, key: Key) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([kind, *key])).decode("ascii").rstrip("=")


def decode_cursor(kind: str, cursor: str, types: tuple[type, ...]) -> Key:
    """The key in ``cursor``, checked against ``kind`` and the types of its parts; 400 otherwise."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raw = None
    if (
        not isinstance(raw, list)
        or len(raw) != len(types) + 1
        or raw[0] != kind
        or not all(type(value) is expected for value, expected in zip(raw[1:], types, strict=True))
    ):
        raise ApiError.bad_param("cursor", f"not a cursor of this {kind} listing; pass back next_cursor unchanged")
    return tuple(raw[1:])
