"""Encryption of L2 cache values at rest in Redis (the spec's cache security): AES-256-GCM with a
random 96-bit nonce per value, the value's Redis key as associated data, so a value copied under
another key does not open."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["Sealer"]

_NONCE_BYTES = 12


class Sealer:
    """Seals and opens values with one 32-byte key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError(f"cannot use a cache key of {len(key)} bytes: AES-256 needs 32")
        self._aead = AESGCM(key)

    @classmethod
    def from_base64(cls, text: str) -> Sealer:
        """The sealer of a base64 key (``openssl rand -base64 32``); the error never shows the key."""
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "cannot read the cache key: it is not base64 (make one with openssl rand -base64 32)"
            ) from None
        return cls(key)

    def seal(self, value: bytes, redis_key: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value, redis_key.encode())

    def open(self, sealed: bytes, redis_key: str) -> bytes | None:
        """The value, or None when it was not sealed by this key for ``redis_key`` (or was altered)."""
        if len(sealed) <= _NONCE_BYTES:
            return None
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], redis_key.encode())
        except InvalidTag:
            return None
