"""The ClickHouse client pool: statements, inserts, errors translated to ours, and the embedded
store's single owner process made explicit (StoreLocked with a clear message)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from storage import Store, StoreError, StoreLocked, open_store
from storage.client import API_QUERY_SETTINGS, QueryLimitExceeded
from storage.sink import MAX_PART_ROWS


def test_ping_and_queries_work_on_an_embedded_store(store: Store) -> None:
    assert store.embedded
    assert store.ping()
    assert store.command("SELECT 41 + 1") == 42
    assert store.rows("SELECT number FROM numbers(3)") == [(0,), (1,), (2,)]


def test_parameters_are_bound_not_interpolated(store: Store) -> None:
    text = "it's {x}; DROP TABLE rollups"
    assert store.rows("SELECT {t:String}", {"t": text}) == [(text,)]
    assert store.command("EXISTS TABLE rollups") == 1


def test_queries_run_without_jit_compilation(store: Store) -> None:
    """A query compiling its expressions with LLVM took ~110 ms more (storage/client.py)."""
    found = store.rows(
        "SELECT getSetting('compile_expressions'), getSetting('compile_aggregate_expressions'), "
        "getSetting('compile_sort_description')"
    )
    assert found == [(False, False, False)]
    assert store.rows("SELECT getSetting('compile_expressions')", settings={"max_threads": 1}) == [(False,)]


def test_insert_is_column_oriented(store: Store) -> None:
    store.command("CREATE TABLE t (a UInt8, b String) ENGINE = MergeTree ORDER BY a")
    store.insert("t", [[2, 1], ["two", "one"]], ["a", "b"])
    assert store.rows("SELECT a, b FROM t ORDER BY a") == [(1, "one"), (2, "two")]


def test_arrow_columns_are_inserted_by_name_as_one_part(store: Store) -> None:
    """The embedded store reads Arrow columns in place (chDB's Python table function): columns go by
    name whatever the table's order, and MAX_PART_ROWS rows are one part, which the sink's
    all-or-nothing inserts rest on (storage/sink.py)."""
    store.command(
        "CREATE TABLE t (a UInt32, b LowCardinality(String), c Map(LowCardinality(String), String), d Enum8('x' = 1)) "
        "ENGINE = MergeTree ORDER BY a SETTINGS parts_to_throw_insert = 1000"
    )
    store.command("SYSTEM STOP MERGES t")
    n = MAX_PART_ROWS
    words = pa.DictionaryArray.from_arrays(pa.array(np.arange(n) % 2, type=pa.int32()), pa.array(["one", "two"]))
    labels = pa.MapArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32)), pa.array(["k"] * n), pa.array(["v"] * n)
    )
    kinds = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["x"]))
    store.insert("t", [kinds, labels, words, pa.array(np.arange(n, dtype=np.uint32))], ["d", "c", "b", "a"])
    assert store.rows("SELECT count(), sum(a), countIf(b = 'two'), any(c), any(d) FROM t") == [
        (n, n * (n - 1) // 2, n // 2, {"k": "v"}, "x")
    ]
    assert store.rows("SELECT count() FROM system.parts WHERE table = 't' AND active") == [(1,)]
    with pytest.raises(StoreError, match="cannot insert into no_such_table"):
        store.insert("no_such_table", [pa.array([1])], ["a"])


def test_failed_statement_is_a_store_error_naming_it(store: Store) -> None:
    with pytest.raises(StoreError, match="cannot run 'SELECT \\* FROM no_such_table'"):
        store.command("SELECT * FROM no_such_table")
    with pytest.raises(StoreError, match="cannot query"):
        store.rows("SELECT nope()")
    with pytest.raises(StoreError, match="cannot insert into no_such_table"):
        store.insert("no_such_table", [[1]], ["a"])
    assert store.ping()  # the pool survives failures


def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("http://perfpulse:s3cret@127.0.0.1:1/default")
    assert "cannot connect to ClickHouse" in str(caught.value)
    assert "s3cret" not in str(caught.value) and ":***@" in str(caught.value)


@pytest.fixture
def owner_process(store_url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process that opens the embedded store and holds it."""
    code = textwrap.dedent(
        f"""
        import time
        from storage import open_store
        store = open_store({store_url!r})
        print(store.command("SELECT 1"), flush=True)
        time.sleep(120)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "1", "owner did not open"
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def test_store_held_by_another_process_raises_store_locked_with_a_clear_message(
    owner_process: subprocess.Popen[str], store_url: str
) -> None:
    with pytest.raises(StoreLocked) as caught:
        open_store(store_url)
    message = str(caught.value)
    assert store_url.removeprefix("chdb://") in message
    assert "another process" in message and "go through its API" in message


def test_store_opens_once_its_owner_process_is_gone(owner_process: subprocess.Popen[str], store_url: str) -> None:
    owner_process.kill()
    owner_process.wait(timeout=30)
    store = open_store(store_url, pool_size=1)
    try:
        assert store.ping()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("sql", "settings", "bound"),
    [
        ("SELECT count() FROM numbers_mt(100000000000)", {"max_execution_time": 1}, "time"),
        ("SELECT length(groupArray(number)) FROM numbers(100000000)", {"max_memory_usage": 50_000_000}, "memory"),
        ("SELECT number FROM numbers(1000)", {"max_result_rows": 10, "result_overflow_mode": "throw"}, "rows"),
    ],
)
@pytest.mark.parametrize("shape", ["rows", "arrow"])
def test_a_query_past_its_bounds_is_stopped_naming_the_bound(
    store: Store, sql: str, settings: dict[str, object], bound: str, shape: str
) -> None:
    """API queries carry API_QUERY_SETTINGS (30 s, 1 GiB); here smaller values of the same settings,
    for rows and for Arrow results alike (the latter carry them in a SETTINGS clause)."""
    with pytest.raises(QueryLimitExceeded) as caught:
        getattr(store, shape)(sql, settings={**API_QUERY_SETTINGS, **settings})
    assert caught.value.bound == bound
    setting = next(iter(settings))
    assert f"{setting} = {settings[setting]}" in str(caught.value)
    assert store.rows("SELECT 1") == [(1,)]  # the store goes on serving


def test_api_queries_are_bounded_in_time_and_memory() -> None:
    assert API_QUERY_SETTINGS["max_execution_time"] == 30
    assert API_QUERY_SETTINGS["max_memory_usage"] == 1 << 30
    assert API_QUERY_SETTINGS["timeout_overflow_mode"] == "throw"


def test_close_waits_for_a_query_still_running_so_the_next_store_can_open(tmp_path: Path) -> None:
    """A task cancelled mid-query leaves the query running in its thread; a close that did not wait
    let that client back into the pool afterwards, holding chDB's engine on the old path, and the
    next embedded store of the process (another path) was refused."""
    first = open_store(f"chdb://{tmp_path}/first", pool_size=2)
    started = threading.Event()

    def slow() -> None:
        started.set()
        first.rows("SELECT sleep(1.5)")

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait()
    first.close()  # returns once the running query gave its client back
    worker.join()
    with pytest.raises(StoreError, match="is closed"):
        first.rows("SELECT 1")
    second = open_store(f"chdb://{tmp_path}/second", pool_size=1)
    try:
        assert second.rows("SELECT 1") == [(1,)]
    finally:
        second.close()


def test_an_arrow_query_binds_parameters_and_gives_list_columns_whole(store: Store) -> None:
    table = store.arrow(
        "SELECT number AS n, range(number) AS r FROM numbers({k:UInt32}) WHERE n > {low:UInt32}",
        {"k": 4, "low": 1},
        {"max_result_rows": 10, "result_overflow_mode": "throw"},
    )
    assert table.column("n").to_pylist() == [2, 3]
    assert table.column("r").to_pylist() == [[0, 1], [0, 1, 2]]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_threads; DROP TABLE rollups": 1}, "not a ClickHouse setting name"),
        ({"max_threads": 1.5}, "neither an integer nor a string"),
        ({"max_threads": True}, "neither an integer nor a string"),
    ],
)
def test_an_arrow_querys_settings_are_checked_before_they_enter_its_sql(
    store: Store, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.arrow("SELECT 1", settings=settings)


def test_a_string_setting_is_quoted_in_the_settings_clause(store: Store) -> None:
    """A quote in a string setting stays inside its literal: ClickHouse refuses the value, the
    statement is not cut short."""
    with pytest.raises(StoreError, match="Unexpected value of OverflowMode: 'throw' , max_threads = '1'"):
        store.arrow("SELECT 1", settings={"timeout_overflow_mode": "throw' , max_threads = '1"})
