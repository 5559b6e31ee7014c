"""ClickHouse access through clickhouse-connect: embedded chDB or a server, the same code path.

``chdb://<path>`` opens ClickHouse in-process (one owner process per path); ``http(s)://...`` talks
to a server. A :class:`Store` keeps a small pool of clients because one clickhouse-connect client
runs one statement at a time: the sink's inserts must not queue behind the API's queries.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, ProgrammingError

__all__ = ["Store", "StoreError", "StoreLocked", "open_store"]


class StoreError(RuntimeError):
    """A ClickHouse statement or connection failed; the message says what and why."""


class StoreLocked(StoreError):
    """The embedded store is owned by another process (a running perfpulse)."""


def _held_elsewhere(path: Path) -> bool:
    """Whether another process holds the embedded store at ``path``: ClickHouse flocks its
    ``status`` file while a server or a chDB engine has the directory open, and /proc/locks names
    the holder (this process may hold it already, through another client)."""
    try:
        inode = (path / "status").stat().st_ino
        locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    for line in locks.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return int(fields[4]) != os.getpid()
    return False


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


class Store:
    """A pool of clickhouse-connect clients on one database."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        self.embedded = url.startswith("chdb:")
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        for _ in range(pool_size):
            self._pool.put(self._connect())

    def _connect(self) -> Any:
        if self.embedded and _held_elsewhere(Path(self.url.removeprefix("chdb://"))):
            raise StoreLocked(
                f"cannot open the embedded store {self.url.removeprefix('chdb://')}: another process "
                "(a running perfpulse) owns it; go through its API, or stop it first"
            )
        try:
            return clickhouse_connect.get_client(dsn=self.url)
        except ProgrammingError as exc:
            raise StoreError(f"cannot open ClickHouse at {_redact(self.url)}: {exc}") from exc
        except (ClickHouseError, OSError) as exc:
            raise StoreError(f"cannot connect to ClickHouse at {_redact(self.url)}: {exc}") from exc

    @contextmanager
    def _client(self) -> Iterator[Any]:
        client = self._pool.get()
        try:
            yield client
        finally:
            self._pool.put(client)

    def command(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any:
        with self._client() as client:
            try:
                return client.command(sql, parameters=parameters, settings=settings)
            except (ClickHouseError, OSError) as exc:
                raise StoreError(f"cannot run {sql.strip().splitlines()[0][:80]!r}: {exc}") from exc

    def _query(self, sql: str, parameters: dict[str, Any] | None, **options: Any) -> Any:
        with self._client() as client:
            try:
                return client.query(sql, parameters=parameters, **options)
            except (ClickHouseError, OSError) as exc:
                raise StoreError(f"cannot query {sql.strip().splitlines()[0][:80]!r}: {exc}") from exc

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        return list(self._query(sql, parameters).result_rows)

    def insert(self, table: str, columns: Sequence[Sequence[Any]], names: Sequence[str]) -> None:
        """Insert column-oriented data in one statement (one part, all or nothing)."""
        with self._client() as client:
            try:
                client.insert(table, list(columns), column_names=list(names), column_oriented=True)
            except (ClickHouseError, OSError, ValueError, TypeError) as exc:
                raise StoreError(f"cannot insert into {table}: {exc}") from exc

    def ping(self) -> bool:
        try:
            return bool(self.command("SELECT 1") == 1)
        except StoreError:
            return False

    def close(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait().close()


def open_store(url: str, pool_size: int = 4) -> Store:
    """Open the store at ``url`` (raises :class:`StoreLocked` when another process owns it)."""
    return Store(url, pool_size)
