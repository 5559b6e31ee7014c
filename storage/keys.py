"""API keys in the ``api_keys`` table: created, listed and revoked here; read whole by the API.

A key is ``pp_`` followed by 32 random bytes in lowercase base32 (52 characters). It is returned once,
by :func:`create_key`, and never stored: the table keeps its SHA-256 (hex) beside its id, name,
scope and times. A revoked key keeps its row (``revoked_ms`` set), so listing shows what existed, and an API whose
keys were all revoked stays closed (:attr:`KeyTable.made`).
Times are epoch milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storage.client import Store

__all__ = [
    "KEY_PREFIX",
    "MAX_NAME_CHARS",
    "ApiKey",
    "KeyTable",
    "NewKey",
    "Scope",
    "active_keys",
    "check_name",
    "create_key",
    "hash_key",
    "key_table",
    "list_keys",
    "parse_scope",
    "revoke_key",
]

KEY_PREFIX = "pp_"
MAX_NAME_CHARS = 100


class Scope(StrEnum):
    """What a key may do. ``admin`` may do everything, ``read`` may read and write nothing,
    ``ingest`` may only send data (the ingest and OTLP endpoints)."""

    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str  # public identifier, shown in listings and used to revoke
    name: str  # what the key is for, free text
    scope: Scope
    created_ms: int  # epoch ms
    revoked_ms: int | None  # epoch ms; None while the key works

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope.value,
            "created": self.created_ms,
            "revoked": self.revoked_ms,
        }


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # the secret itself: shown once, stored nowhere
    record: ApiKey


def hash_key(key: str) -> str:
    """The SHA-256 (hex) a key is stored and looked up by. A key is 256 random bits: unlike a
    password it cannot be guessed, so a fast unsalted hash is enough."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _new_secret() -> str:
    return KEY_PREFIX + base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=").lower()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_scope(value: str) -> Scope:
    """``value`` as a :class:`Scope`; ``ValueError`` naming the allowed ones."""
    try:
        return Scope(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Scope)
        raise ValueError(f"cannot use scope {value!r}: it must be one of {allowed}") from None


def check_name(name: str) -> str:
    """``name`` if it is a printable name of at most ``MAX_NAME_CHARS`` characters; ``ValueError`` otherwise."""
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"cannot use a key name of {len(name)} characters: the limit is {MAX_NAME_CHARS}")
    if not name.isprintable():
        raise ValueError(f"cannot use key name {name!r}: it must be printable text")
    return name


def _write(store: Store, key: ApiKey, sha256: str) -> None:
    store.insert(
        "api_keys",
        [[key.id], [key.name], [key.scope.value], [sha256], [key.created_ms], [key.revoked_ms], [time.time_ns()]],
        ["id", "name", "scope", "sha256", "created_at", "revoked_at", "version"],
    )


def create_key(store: Store, scope: Scope, name: str = "") -> NewKey:
    """Create a key of ``scope``; the returned :attr:`NewKey.key` is the only copy of the secret."""
    secret = _new_secret()
    record = ApiKey(secrets.token_hex(6), check_name(name), scope, _now_ms(), None)
    _write(store, record, hash_key(secret))
    return NewKey(secret, record)


_COLUMNS = "id, name, scope, sha256, toUnixTimestamp64Milli(created_at), toUnixTimestamp64Milli(revoked_at)"


def _rows(store: Store, where: str = "", parameters: dict[str, Any] | None = None) -> list[tuple[ApiKey, str]]:
    """Each key's newest row; ``where`` may test ``id`` only (the sorting key, safe beside FINAL)."""
    rows = store.rows(f"SELECT {_COLUMNS} FROM api_keys FINAL {where} ORDER BY created_at, id", parameters)
    return [(ApiKey(r[0], r[1], Scope(r[2]), int(r[4]), None if r[5] is None else int(r[5])), str(r[3])) for r in rows]


def list_keys(store: Store) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return [key for key, _ in _rows(store)]


@dataclass(frozen=True, slots=True)
class KeyTable:
    active: dict[str, ApiKey]  # the keys that work, by their SHA-256 (:func:`hash_key`)
    made: bool  # whether any key was ever created, revoked ones included


def key_table(store: Store) -> KeyTable:
    """The active keys, and whether any key exists at all (one query)."""
    rows = _rows(store)
    return KeyTable({sha256: key for key, sha256 in rows if key.revoked_ms is None}, bool(rows))


def active_keys(store: Store) -> dict[str, ApiKey]:
    """The keys that work, by their SHA-256 (:func:`hash_key`)."""
    return key_table(store).active


def revoke_key(store: Store, key_id: str) -> ApiKey | None:
    """Revoke the key ``key_id`` and return it as revoked (unchanged if it already was); None when
    no key has that id."""
    found = _rows(store, "WHERE id = {id:String}", {"id": key_id})
    if not found:
        return None
    key, sha256 = found[0]
    if key.revoked_ms is not None:
        return key
    revoked = ApiKey(key.id, key.name, key.scope, key.created_ms, _now_ms())
    _write(store, revoked, sha256)
    return revoked
