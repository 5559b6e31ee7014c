"""AES-256-GCM sealing of L2 values: a value opens only under its own Redis key and cache key,
altered bytes do not open, and a bad cache key is refused without showing it."""

from __future__ import annotations

import base64

import pytest

from api.cacheseal import Sealer

KEY = bytes(range(32))


def test_a_sealed_value_opens_under_its_redis_key_only() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(b"answer", "pp.qc:{ab}:k1")
    assert b"answer" not in sealed and len(sealed) == 12 + len(b"answer") + 16
    assert sealer.open(sealed, "pp.qc:{ab}:k1") == b"answer"
    assert sealer.open(sealed, "pp.qc:{ab}:k2") is None  # copied under another key
    assert Sealer(bytes(32)).open(sealed, "pp.qc:{ab}:k1") is None  # another cache key
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert sealer.open(altered, "pp.qc:{ab}:k1") is None
    assert sealer.open(b"short", "pp.qc:{ab}:k1") is None
    assert sealer.seal(b"answer", "k") != sealer.seal(b"answer", "k")  # a fresh nonce each time


def test_a_base64_key_of_32_bytes_is_read() -> None:
    sealer = Sealer.from_base64(base64.b64encode(KEY).decode() + "\n")
    assert sealer.open(Sealer(KEY).seal(b"v", "k"), "k") == b"v"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("c2VjcmV0LXNob3J0", "of 12 bytes"), ("not base64 at all!", "not base64"), ("", "of 0 bytes")],
)
def test_a_bad_key_is_refused_without_showing_it(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        Sealer.from_base64(text)
    assert text not in str(refused.value) or not text
