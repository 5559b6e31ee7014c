"""Storage stage: ClickHouse migrations, the Kafka -> ClickHouse sink, and read helpers.

Importing this package loads the store and migrations only: readers (the API) import the read
helpers they need (``storage.queries``, ``storage.alerts`` ...); the composition root imports the
sink stage from ``storage.sink``.
"""

from storage.client import Store, StoreError, StoreLocked, open_store
from storage.migrate import MigrationParams, apply_migrations

__all__ = [
    "MigrationParams",
    "Store",
    "StoreError",
    "StoreLocked",
    "apply_migrations",
    "open_store",
]
