"""API keys in a real chDB store: created once, stored only as a hash, listed, revoked."""

from __future__ import annotations

import hashlib
import re

import pytest

from storage import Store
from storage.keys import (
    KEY_PREFIX,
    Scope,
    active_keys,
    check_name,
    create_key,
    hash_key,
    key_table,
    list_keys,
    parse_scope,
    revoke_key,
)


def test_a_key_is_random_prefixed_and_returned_once(store: Store) -> None:
    first, second = create_key(store, Scope.READ, "grafana"), create_key(store, Scope.READ, "grafana")
    assert re.fullmatch(r"pp_[a-z2-7]{52}", first.key), first.key
    assert first.key.startswith(KEY_PREFIX)
    assert first.key != second.key and first.record.id != second.record.id
    assert first.record.scope is Scope.READ and first.record.name == "grafana" and first.record.revoked_ms is None


def test_the_store_holds_the_hash_never_the_key(store: Store) -> None:
    created = create_key(store, Scope.ADMIN, "ops")
    dump = " ".join(str(cell) for row in store.rows("SELECT * FROM api_keys") for cell in row)
    assert created.key not in dump
    assert created.key.removeprefix(KEY_PREFIX) not in dump
    assert hashlib.sha256(created.key.encode()).hexdigest() in dump
    assert hash_key(created.key) in active_keys(store)


def test_active_keys_are_found_by_hash_and_revoked_ones_are_gone(store: Store) -> None:
    kept = create_key(store, Scope.INGEST, "collector")
    dropped = create_key(store, Scope.READ, "old dashboard")
    revoked = revoke_key(store, dropped.record.id)
    assert revoked is not None and revoked.revoked_ms is not None and revoked.revoked_ms >= dropped.record.created_ms
    active = active_keys(store)
    assert active == {hash_key(kept.key): kept.record}
    # Listing keeps the revoked key, oldest first, with when it was revoked.
    listed = list_keys(store)
    assert [k.id for k in listed] == [kept.record.id, dropped.record.id]
    assert listed[1].revoked_ms == revoked.revoked_ms


def test_revoking_twice_keeps_the_first_time_and_an_unknown_id_is_none(store: Store) -> None:
    created = create_key(store, Scope.READ)
    first = revoke_key(store, created.record.id)
    again = revoke_key(store, created.record.id)
    assert first is not None and again == first
    assert revoke_key(store, "no-such-id") is None
    assert revoke_key(store, "' OR 1=1 --") is None  # a parameter, never SQL


@pytest.mark.parametrize("value", ["", "Admin", "write", "admin "])
def test_an_unknown_scope_is_refused_naming_the_allowed_ones(value: str) -> None:
    with pytest.raises(ValueError, match=r"must be one of ingest, read, admin"):
        parse_scope(value)


@pytest.mark.parametrize("name", ["x" * 101, "line\nbreak", "bell\x07"])
def test_a_long_or_unprintable_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot use"):
        check_name(name)


def test_a_store_whose_keys_are_all_revoked_still_has_made_keys(store: Store) -> None:
    assert key_table(store).made is False
    created = create_key(store, Scope.ADMIN, "the only one")
    revoke_key(store, created.record.id)
    table = key_table(store)
    assert table.active == {} and table.made is True  # the API stays closed
