"""A real embedded ClickHouse (chDB) store per test, migrated, under the test's tmp_path.

chDB runs one data path per process at a time: every store a test opens is closed when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Store, apply_migrations, open_store


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"chdb://{tmp_path}/ch"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        apply_migrations(opened)
        yield opened
    finally:
        opened.close()
