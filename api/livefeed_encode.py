"""Batch frames encoded once for every connection that sends the same one.

A batch is ``{"type": "batch", "cursor": .., "events": [{"sub": .., "seq": .., **result}, ..]}``.
A result is encoded once per format (:func:`encode_result`); an event is that encoding with the
client's ``sub`` and the ``seq`` spliced in front (ids are ``[A-Za-z0-9_.:-]``, nothing to escape),
and a whole frame is kept in :class:`FrameCache` by its events, so the thousand connections
subscribed to the same results under the same ids share one encoding (and one JSON decode to str).
What is spliced decodes to exactly what encoding the frame's dict gives (tests compare them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson
import ormsgpack

from api.livefeed_wire import Format

__all__ = ["FrameCache", "encode_result"]

CACHE_FRAMES = 256  # distinct frames kept (a round's frames are built within milliseconds of each other)
CACHE_BYTES = 32 * 1024 * 1024  # ... and at most this many bytes of them (a frame is up to ~1 MB)


def encode_result(result: dict[str, Any], fmt: Format) -> bytes:
    """A result (an event without ``sub`` and ``seq``; a non-empty map) in ``fmt``."""
    return orjson.dumps(result) if fmt is Format.JSON else ormsgpack.packb(result)


def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x80 | n])
    return b"\xde" + n.to_bytes(2, "big")  # results have a handful of keys: never a map32


def _map_items(packed: bytes) -> tuple[int, bytes]:
    """A packed map's size and its items without the header."""
    if packed[0] & 0xF0 == 0x80:
        return packed[0] & 0x0F, packed[1:]
    if packed[0] == 0xDE:
        return int.from_bytes(packed[1:3], "big"), packed[3:]
    raise ValueError(f"a result must encode as a map of fewer than 65,536 keys, not {packed[:3].hex()}")


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 65_536:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _event(sub_id: str, seq: int, result: bytes, fmt: Format) -> bytes:
    if fmt is Format.JSON:
        return b'{"sub":"' + sub_id.encode() + b'","seq":' + str(seq).encode() + b"," + result[1:]
    n, items = _map_items(result)
    return (
        _map_header(n + 2)
        + ormsgpack.packb("sub")
        + ormsgpack.packb(sub_id)
        + ormsgpack.packb("seq")
        + (ormsgpack.packb(seq) + items)
    )


def _batch(cursor: str, events: list[bytes], fmt: Format) -> str | bytes:
    if fmt is Format.JSON:
        head = b'{"type":"batch","cursor":"' + cursor.encode() + b'","events":['
        return (head + b",".join(events) + b"]}").decode()
    head = ormsgpack.packb({"type": "batch", "cursor": cursor})
    return _map_header(3) + head[1:] + ormsgpack.packb("events") + _array_header(len(events)) + b"".join(events)


class FrameCache:
    """Encoded batch frames by their events; bounded in frames and bytes, least recently used out.
    The caller gives each result's encoding (kept with the result) so none is encoded twice."""

    def __init__(self, max_frames: int = CACHE_FRAMES, max_bytes: int = CACHE_BYTES) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: OrderedDict[tuple[Any, ...], str | bytes] = OrderedDict()
        self._bytes = 0  # characters of JSON frames, bytes of MessagePack ones

    def batch(self, cursor: str, events: Sequence[tuple[str, int, bytes]], fmt: Format) -> str | bytes:
        """The frame of ``events`` ((sub id, seq, the result in ``fmt``), in order) ending at ``cursor``."""
        key = (fmt, cursor, *((sub_id, seq) for sub_id, seq, _ in events))
        found = self._frames.get(key)
        if found is not None:
            self._frames.move_to_end(key)
            return found
        frame = _batch(cursor, [_event(sub_id, seq, result, fmt) for sub_id, seq, result in events], fmt)
        self._frames[key] = frame
        self._bytes += len(frame)
        while self._frames and (len(self._frames) > self.max_frames or self._bytes > self.max_bytes):
            _, dropped = self._frames.popitem(last=False)
            self._bytes -= len(dropped)
        return frame
