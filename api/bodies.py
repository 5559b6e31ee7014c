"""Rendered answers kept by what they were made from: a polled answer whose parts did not change is
sent as the bytes rendered the first time, with the ETag computed then, instead of being rendered
and hashed again per request (orjson of an hour of 10 s buckets and its hash: most of a cached
answer's CPU).

An entry is found by its key (a validated query and its range) and is used only when the parts it
was rendered from are the very objects the caches hold now (compared by identity; the entry keeps
them, so no other object can take their ``id``): a part dropped and read again, or a new window,
makes a new body.
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Bodies", "Rendered", "etag_of"]


def etag_of(body: bytes) -> str:
    """The weak ETag of ``body``: a hash of its bytes."""
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered body and its ETag."""

    body: bytes
    etag: str


class Bodies:
    """Rendered bodies by key, each with the objects it was made from; least recently used out past
    ``max_bytes`` (bodies' lengths)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: collections.OrderedDict[Hashable, tuple[tuple[object, ...], Rendered]] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, sources: tuple[object, ...]) -> Rendered | None:
        """The body kept for ``key`` if it was made from exactly ``sources`` (the same objects)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        kept, rendered = entry
        if len(kept) != len(sources) or any(a is not b for a, b in zip(kept, sources, strict=True)):
            return None
        self._entries.move_to_end(key)
        return rendered

    def put(self, key: Hashable, sources: tuple[object, ...], rendered: Rendered) -> None:
        """Keep ``rendered`` for ``key``, made from ``sources`` (a body larger than the bound is not kept)."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old[1].body)
        if len(rendered.body) > self.max_bytes:
            return
        self._entries[key] = (sources, rendered)
        self.bytes += len(rendered.body)
        while self.bytes > self.max_bytes:
            self.bytes -= len(self._entries.popitem(last=False)[1][1].body)
