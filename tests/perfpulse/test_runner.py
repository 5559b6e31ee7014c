"""``perfpulse up``'s preparation: a fresh data dir gets an admin key, printed once; no URL shown
carries a password."""

from __future__ import annotations

import io

from rich.console import Console

from perfpulse.runner import _prepare
from perfpulse.settings import Settings
from storage import open_store
from storage.keys import Scope, hash_key, key_table


def test_a_fresh_data_dir_gets_one_admin_key(settings: Settings) -> None:
    out = io.StringIO()
    key = _prepare(settings, Console(file=out, width=300))
    assert key is not None and key.startswith("pp_")
    assert key not in out.getvalue()  # the banner shows it once the API is up, not the preparation
    assert _prepare(settings, Console(file=io.StringIO())) is None  # not again: a key exists
    store = open_store(settings.store_url, pool_size=1)
    try:
        table = key_table(store)
    finally:
        store.close()
    assert [k.scope for k in table.active.values()] == [Scope.ADMIN]
    assert hash_key(key) in table.active


def test_the_preparation_shows_no_redis_password(settings: Settings) -> None:
    remote = settings.model_copy(update={"redis_url": "redis://:s3cret@redis.invalid:6379/0"})
    out = io.StringIO()
    _prepare(remote, Console(file=out, width=300))
    assert "s3cret" not in out.getvalue() and "redis://:***@redis.invalid:6379/0" in out.getvalue()
