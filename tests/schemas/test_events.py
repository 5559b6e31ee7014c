"""The stored-windows message: windows and trace ids round-trip; a message of another shape is refused."""

from __future__ import annotations

import orjson
import pytest

from schemas.events import MAX_TRACES_PER_MESSAGE, Stored, StoredWindow, decode_stored, encode_stored

CELL = StoredWindow("http.server.duration", "gateway", 1_700_000_000_000, 10_000, False)


def test_windows_and_traces_round_trip() -> None:
    assert decode_stored(encode_stored([CELL], 5, ["a" * 32])) == Stored([CELL], 5, ["a" * 32])
    assert decode_stored(encode_stored([CELL], 5)) == Stored([CELL], 5, [])
    assert b"traces" not in encode_stored([CELL], 5)  # the message of windows alone is as before


@pytest.mark.parametrize(
    "body",
    [{"at_ms": 1, "windows": [], "traces": "abc"}, {"at_ms": 1, "windows": [], "traces": [1]}, {"windows": []}],
)
def test_a_message_of_another_shape_is_refused(body: object) -> None:
    with pytest.raises(ValueError, match="not a stored-windows message"):
        decode_stored(orjson.dumps(body))


def test_a_message_holds_a_bounded_number_of_traces() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_TRACES_PER_MESSAGE}"):
        encode_stored([], 1, ["a" * 32] * (MAX_TRACES_PER_MESSAGE + 1))
