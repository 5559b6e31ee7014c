"""Batch frames spliced from shared result encodings decode to exactly the frame's dict, in both
formats and past the one-byte MessagePack headers; the cache shares a frame and stays bounded."""

from __future__ import annotations

from typing import Any

import orjson
import ormsgpack
import pytest

from api.livefeed_encode import FrameCache, encode_result
from api.livefeed_wire import Format

RESULTS: list[dict[str, Any]] = [
    {"window": {"start": 1, "end": 2}, "late": False, "stored_at": 3, "truncated": False, "data": {"series": []}},
    {"window": None, "late": True, "stored_at": 4, "truncated": True, "data": {"rule": 'é " \\ \u2028', "n": None}},
    {f"k{i}": i for i in range(20)},  # a map16 header in MessagePack
]


def _decode(frame: str | bytes) -> Any:
    return orjson.loads(frame) if isinstance(frame, str) else ormsgpack.unpackb(frame)


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("count", [1, 3, 40])  # 40 events: an array16 header in MessagePack
def test_a_spliced_batch_decodes_to_the_frame_it_stands_for(fmt: Format, count: int) -> None:
    taken = [(f"sub.{i}:x-y_z", 10**12 + i, RESULTS[i % len(RESULTS)]) for i in range(count)]
    frame = FrameCache().batch("abcd0123.99", [(s, seq, encode_result(r, fmt)) for s, seq, r in taken], fmt)
    assert isinstance(frame, str) == (fmt is Format.JSON)  # JSON goes in text frames
    events = [{"sub": s, "seq": seq, **r} for s, seq, r in taken]
    assert _decode(frame) == {"type": "batch", "cursor": "abcd0123.99", "events": events}


def test_connections_sending_the_same_results_under_the_same_ids_share_one_encoding() -> None:
    cache = FrameCache()
    result = encode_result(RESULTS[0], Format.JSON)
    first = cache.batch("abcd0123.5", [("a", 5, result)], Format.JSON)
    assert cache.batch("abcd0123.5", [("a", 5, result)], Format.JSON) is first
    other_id = cache.batch("abcd0123.5", [("b", 5, result)], Format.JSON)
    assert other_id is not first and _decode(other_id)["events"][0]["sub"] == "b"


def test_the_cache_is_bounded_in_frames_and_bytes() -> None:
    result = encode_result(RESULTS[0], Format.MSGPACK)
    cache = FrameCache(max_frames=2)
    first = cache.batch("abcd0123.1", [("a", 1, result)], Format.MSGPACK)
    cache.batch("abcd0123.2", [("a", 2, result)], Format.MSGPACK)
    cache.batch("abcd0123.3", [("a", 3, result)], Format.MSGPACK)
    again = cache.batch("abcd0123.1", [("a", 1, result)], Format.MSGPACK)
    assert again == first and again is not first  # dropped, then encoded anew
    small = FrameCache(max_bytes=len(first))
    kept = small.batch("abcd0123.1", [("a", 1, result)], Format.MSGPACK)
    small.batch("abcd0123.2", [("a", 2, result)], Format.MSGPACK)
    assert small.batch("abcd0123.1", [("a", 1, result)], Format.MSGPACK) is not kept
