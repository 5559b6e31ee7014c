"""Storage stage: ClickHouse migrations, the Kafka -> ClickHouse sink, and read helpers."""

from storage.client import Store, StoreError, StoreLocked, open_store
from storage.migrate import MigrationParams, apply_migrations
from storage.sink import ForeignStoreError, Sink, SinkConfig

__all__ = [
    "ForeignStoreError",
    "MigrationParams",
    "Sink",
    "SinkConfig",
    "Store",
    "StoreError",
    "StoreLocked",
    "apply_migrations",
    "open_store",
]
