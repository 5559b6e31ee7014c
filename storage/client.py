"""ClickHouse access through clickhouse-connect: embedded chDB or a server, the same code path.

``chdb://<path>`` opens ClickHouse in-process (one owner process per path); ``http(s)://...`` talks
to a server. A :class:`Store` keeps a small pool of clients because one clickhouse-connect client
runs one statement at a time: the sink's inserts must not queue behind the API's queries.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.exceptions import ClickHouseError, ProgrammingError

__all__ = ["API_QUERY_SETTINGS", "QueryLimitExceeded", "Store", "StoreError", "StoreLocked", "open_store"]

log = logging.getLogger("perfpulse.storage")

# Bounds of a query the API runs for a client: ClickHouse stops it past 30 s or 1 GiB, so no request
# can hold the process's cores or memory (chDB runs in the API's own process). Internal reads (the
# sink's offsets at start, migrations) are not bounded: they must finish on a store of any size.
API_QUERY_SETTINGS: Final[Mapping[str, Any]] = {
    "max_execution_time": 30,  # seconds
    "timeout_overflow_mode": "throw",
    "max_memory_usage": 1 << 30,  # bytes, for this query
}
# ClickHouse error codes of a query stopped by one of its bounds: the bound's name and its setting.
_LIMIT_CODES: Final = {
    159: ("time", "max_execution_time"),  # TIMEOUT_EXCEEDED
    241: ("memory", "max_memory_usage"),  # MEMORY_LIMIT_EXCEEDED
    396: ("rows", "max_result_rows"),  # TOO_MANY_ROWS_OR_BYTES
}
_CODE = re.compile(r"Code: (\d{1,5})\.")  # a server's error over HTTP carries its code in the text


class StoreError(RuntimeError):
    """A ClickHouse statement or connection failed; the message says what and why."""


class QueryLimitExceeded(StoreError):
    """A query ClickHouse stopped at one of its bounds: the request asked too much, the store is
    fine. ``bound`` names it ("time", "memory", "rows", or a reader's own such as "series");
    the message says which setting and value, for the client."""

    def __init__(self, bound: str, message: str) -> None:
        super().__init__(message)
        self.bound = bound


def _limit_exceeded(exc: Exception, settings: Mapping[str, Any]) -> QueryLimitExceeded | None:
    code = getattr(exc, "code", None)
    if not isinstance(code, int):
        found = _CODE.search(str(exc)[:2000])
        code = int(found.group(1)) if found else 0
    if code not in _LIMIT_CODES:
        return None
    bound, setting = _LIMIT_CODES[code]
    return QueryLimitExceeded(bound, f"the query went past its {bound} bound ({setting} = {settings.get(setting)})")


_SETTING_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")


def _settings_clause(settings: Mapping[str, Any]) -> str:
    """``name = value, ...`` for a ``SETTINGS`` clause, of perfpulse's own settings: integers, or
    strings quoted as SQL literals."""
    parts = []
    for name, value in settings.items():
        if not _SETTING_NAME.fullmatch(name):
            raise ValueError(f"not a ClickHouse setting name: {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"setting {name}: {value!r} is neither an integer nor a string")
        literal = str(value) if isinstance(value, int) else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts.append(f"{name} = {literal}")
    return ", ".join(parts)


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


# Every query of perfpulse's clients runs without ClickHouse's JIT compilation: by default a query
# whose expression, aggregate or sort was seen 3 times before compiles it with LLVM first, and that
# query took 141-150 ms instead of ~30 (a live-feed query over 10 metrics, chDB 26.9, in two fresh
# processes); compiled, later ones were no faster (20-40 ms either way). perfpulse's queries are
# small and many (planning dominates): each distinct one paid a spike, in the first rounds of a
# live feed and in a dashboard's first loads. SQL users run on ClickHouse directly is untouched.
_SESSION_SETTINGS: Final[Mapping[str, Any]] = {
    "compile_expressions": 0,
    "compile_aggregate_expressions": 0,
    "compile_sort_description": 0,
}


class Store:
    """A pool of clickhouse-connect clients on one database."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        self.embedded = url.startswith("chdb:")
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._size = pool_size
        self._closing = False  # close() has begun: no client is handed out any more
        self._abandoned = False  # close() gave up waiting: a client put back now is closed at once
        for _ in range(pool_size):
            self._pool.put(self._connect())

    def _connect(self) -> Any:
        if self.embedded and _held_elsewhere(Path(self.url.removeprefix("chdb://"))):
            raise StoreLocked(
                f"cannot open the embedded store {self.url.removeprefix('chdb://')}: another process "
                "(a running perfpulse) owns it; go through its API, or stop it first"
            )
        try:
            # clickhouse-connect takes host, credentials and port from the DSN but not its scheme: an
            # https:// URL without secure=True spoke plain HTTP to the TLS port.
            return clickhouse_connect.get_client(
                dsn=self.url, secure=urlsplit(self.url).scheme == "https", settings=dict(_SESSION_SETTINGS)
            )
        except ProgrammingError as exc:
            raise StoreError(f"cannot open ClickHouse at {_redact(self.url)}: {exc}") from exc
        except (ClickHouseError, OSError) as exc:
            raise StoreError(f"cannot connect to ClickHouse at {_redact(self.url)}: {exc}") from exc

    @contextmanager
    def _client(self, *, renew_after_failure: bool = False) -> Iterator[Any]:
        if self._closing:
            raise StoreError(f"the store {_redact(self.url)} is closed")
        client = self._pool.get()
        try:
            yield client
        except Exception:
            if renew_after_failure:
                client = self._renewed(client)
            raise
        finally:
            if self._abandoned:
                client.close()
            else:
                self._pool.put(client)

    def _renewed(self, client: Any) -> Any:
        """A new client in place of ``client``, which is closed; ``client`` itself when no new one
        can be opened (logged)."""
        try:
            fresh = self._connect()
        except StoreError as exc:
            log.warning("kept a client after its failed query, as no new one could be opened: %s", exc)
            return client
        client.close()
        return fresh

    def command(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any:
        with self._client() as client:
            try:
                return client.command(sql, parameters=parameters, settings=settings)
            except (ClickHouseError, OSError) as exc:
                raise StoreError(f"cannot run {sql.strip().splitlines()[0][:80]!r}: {exc}") from exc

    @contextmanager
    def _querying(
        self, sql: str, settings: Mapping[str, Any] | None, *, renew_after_failure: bool = False
    ) -> Iterator[Any]:
        """A client for one query; its failure raised as :class:`QueryLimitExceeded` when one of
        ``settings``' bounds stopped it, else as :class:`StoreError` naming the statement."""
        with self._client(renew_after_failure=renew_after_failure) as client:
            try:
                yield client
            except (ClickHouseError, OSError) as exc:
                if settings and (limited := _limit_exceeded(exc, settings)) is not None:
                    raise limited from exc
                raise StoreError(f"cannot query {sql.strip().splitlines()[0][:80]!r}: {exc}") from exc

    def rows(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples. ``settings``: ClickHouse settings of this query
        (:data:`API_QUERY_SETTINGS` for the API's); past one of their bounds, raises
        :class:`QueryLimitExceeded`."""
        with self._querying(sql, settings) as client:
            return list(client.query(sql, parameters=parameters, settings=dict(settings or {})).result_rows)

    def arrow(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> pa.Table:
        """Run a query and return its result as an Arrow table: array columns arrive as flat values
        with offsets, which numpy reads without a Python object per element (:meth:`rows` builds one
        per value: 22 ms more than Arrow for 4,332 arrays of 511 counts, measured). Bounds as :meth:`rows`."""
        # The settings go into the statement: clickhouse-connect's chDB backend applies those passed
        # beside an Arrow query by reading system.settings, then SET and restoring each one, 11 more
        # engine calls for the API's 5 bounds (+4-5 ms a query, measured), where a query in its
        # native format carries them as this clause.
        # After an Arrow query failed in execution (a bound, throwIf), the next query of a chDB client
        # (clickhouse-connect 1.12, chDB 4.4) read leftover Arrow bytes as its answer and failed
        # ("'utf-8' codec can't decode byte 0xff"): such a client is replaced (a new one: ~25 ms).
        clause = f"\nSETTINGS {_settings_clause(settings)}" if settings else ""
        with self._querying(sql, settings, renew_after_failure=self.embedded) as client:
            return client.query_arrow(sql + clause, parameters=parameters)

    def insert(self, table: str, columns: Sequence[Sequence[Any]], names: Sequence[str]) -> None:
        """Insert column-oriented data in one statement (one part, all or nothing): Python lists or
        numpy arrays, or Arrow arrays, which ClickHouse reads itself (clickhouse-connect's column
        writer works per row in Python): in place when embedded (:func:`_insert_in_place`), sent in
        Arrow format to a server."""
        with self._client() as client:
            try:
                if columns and isinstance(columns[0], pa.Array):
                    arrow = pa.Table.from_arrays(list(columns), names=list(names))
                    if self.embedded:
                        _insert_in_place(client, table, arrow)
                    else:
                        client.insert_arrow(table, arrow)
                else:
                    client.insert(table, list(columns), column_names=list(names), column_oriented=True)
            except (ClickHouseError, OSError, ValueError, TypeError) as exc:
                raise StoreError(f"cannot insert into {table}: {exc}") from exc

    def ping(self) -> bool:
        try:
            return bool(self.command("SELECT 1") == 1)
        except StoreError:
            return False

    def close(self, timeout_s: float = 30.0) -> None:
        """Close every client, waiting up to ``timeout_s`` for those in use. Why wait: a query of a
        cancelled task still runs in its worker thread, and with the embedded store its client, put
        back after a close that did not wait, kept chDB's engine on this path, so the next store
        opened in the process (on another path) was refused."""
        if self._closing:
            return
        self._closing = True
        deadline = time.monotonic() + timeout_s
        for _ in range(self._size):
            try:
                client = self._pool.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._abandoned = True
                log.warning("closed %s with clients still in use after %.0f s", _redact(self.url), timeout_s)
                return
            client.close()


def open_store(url: str, pool_size: int = 4) -> Store:
    """Open the store at ``url`` (raises :class:`StoreLocked` when another process owns it)."""
    return Store(url, pool_size)


def _insert_in_place(client: Any, table: str, perfpulse_arrow_rows: pa.Table) -> None:
    """Insert ``perfpulse_arrow_rows`` into ``table`` of the embedded store, ClickHouse reading the
    Arrow columns where they are: chDB's ``Python`` table function finds the table by its name in
    this frame. clickhouse-connect's ``insert_arrow`` would serialise them to an Arrow stream, write
    it to a temporary file and have ClickHouse read that back (480k points, alternated: 0.21 s of
    CPU per insert against 0.29, medians of 12; the same rows stored). Columns are matched by name."""
    columns = ", ".join(quote_identifier(name) for name in perfpulse_arrow_rows.column_names)
    client.command(
        f"INSERT INTO {quote_identifier(table)} ({columns}) SELECT {columns} FROM Python(perfpulse_arrow_rows)"
    )
