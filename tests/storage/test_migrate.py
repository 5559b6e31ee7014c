"""Migrations: ordered SQL files, each applied once and recorded; malformed files refused."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from storage import MigrationParams, Store, apply_migrations, open_store
from storage.migrate import load_migrations
from tests.storage.builders import BASE_MS, insert_rows, window_row

GOOD_HEADER = "-- mutation: no\n-- idempotent: yes\n"
CLUSTER = "perfpulse_cluster"
_DDL = re.compile(r"^(CREATE|ALTER|DROP|RENAME|TRUNCATE|EXCHANGE)\b")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def recorded(store: Store) -> list[tuple[str, str]]:
    return [
        (str(v), str(n)) for v, n in store.rows("SELECT version, name FROM schema_migrations FINAL ORDER BY version")
    ]


def test_shipped_migrations_load_in_version_order_with_their_headers() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert {m.name for m in migrations} >= {"points", "rollups", "deadletters"}
    for migration in migrations:
        assert migration.statements, migration.name
        assert not any(s.lstrip().startswith("--") for s in migration.statements)
        assert migration.idempotent  # every shipped migration can run again after a crash


def test_first_apply_creates_the_tables_and_records_every_migration(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path}/ch", pool_size=1)
    try:
        applied = apply_migrations(store)
        assert [m.version for m in applied] == [m.version for m in load_migrations()]
        for table in ("points", "rollups", "deadletters", "spans", "logs", "schema_migrations"):
            assert store.command(f"EXISTS TABLE {table}") == 1, table
        assert recorded(store) == [(m.version, m.name) for m in applied]
        engines = store.rows("SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
        assert engines and not [(t, e) for t, e in engines if e.startswith("Replicated")]  # one server: plain
    finally:
        store.close()


def test_every_statement_rendered_for_a_cluster_parses_and_runs_on_the_cluster_replicated(tmp_path: Path) -> None:
    """ClickHouse's own parser (chDB) reads each statement rendered for a cluster: it must parse, each DDL
    statement must carry ON CLUSTER, and each MergeTree-family engine must be its Replicated form."""
    params = MigrationParams().for_cluster(CLUSTER)
    store = open_store(f"chdb://{tmp_path}/ch", pool_size=1)
    try:
        engines = []
        for migration in load_migrations():
            for statement in migration.render(params):
                assert store.command(f"EXPLAIN AST {statement}"), statement  # a syntax error raises
                [(formatted,)] = store.rows("SELECT formatQuerySingleLine({sql:String})", {"sql": statement})
                if _DDL.match(formatted):
                    assert f" ON CLUSTER {CLUSTER} " in formatted, f"{migration.name}: {formatted[:120]}"
                engines += [(migration.name, e) for e in re.findall(r"\bENGINE = (\w+)", formatted)]
        assert engines
        assert [(m, e) for m, e in engines if e.endswith("MergeTree") and not e.startswith("Replicated")] == []
    finally:
        store.close()


def test_the_default_rendering_has_no_cluster_clause() -> None:
    for migration in load_migrations():
        for statement in migration.render(MigrationParams()):
            assert "ON CLUSTER" not in statement and "Replicated" not in statement, migration.name
        for single in (None, ""):
            assert migration.render(MigrationParams().for_cluster(single)) == migration.render(MigrationParams())


def test_any_cluster_name_renders_as_one_quoted_identifier(tmp_path: Path) -> None:
    [points, *_] = load_migrations()
    store = open_store(f"chdb://{tmp_path}/ch", pool_size=1)
    try:
        for name in ("two words", "x`; DROP TABLE points", "back\\slash`", "{cluster}"):
            [statement] = points.render(MigrationParams().for_cluster(name))
            store.command(f"EXPLAIN AST {statement}")  # one statement: a second one would not parse
            [(formatted,)] = store.rows("SELECT formatQuerySingleLine({sql:String})", {"sql": statement})
            assert formatted.startswith("CREATE TABLE IF NOT EXISTS points ON CLUSTER `"), formatted[:80]
    finally:
        store.close()


def test_second_apply_is_a_no_op(store: Store) -> None:
    before = recorded(store)
    store.insert(
        "deadletters",
        [["t"], [0], [0], ["s"], ["r"], ["p"], [now_ms()], [0], [0]],
        [
            "source_topic",
            "source_partition",
            "source_offset",
            "stage",
            "reason",
            "payload",
            "at",
            "kafka_partition",
            "kafka_offset",
        ],
    )
    assert apply_migrations(store) == []
    assert recorded(store) == before
    assert store.rows("SELECT count() FROM schema_migrations") == [(len(before),)]
    assert store.rows("SELECT count() FROM deadletters") == [(1,)]  # data untouched


def test_placeholders_are_filled_from_the_params(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path}/ch", pool_size=1)
    try:
        apply_migrations(store, MigrationParams(raw_ttl_days=7, rollup_ttl_days=90, spans_ttl_days=2, logs_ttl_days=5))
        assert "toIntervalDay(7)" in store.command("SHOW CREATE TABLE points")
        assert "toIntervalDay(90)" in store.command("SHOW CREATE TABLE rollups")
        assert "toIntervalDay(2)" in store.command("SHOW CREATE TABLE spans")
        assert "toIntervalDay(5)" in store.command("SHOW CREATE TABLE logs")
    finally:
        store.close()


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)


def test_a_well_formed_file_is_split_into_statements(tmp_path: Path) -> None:
    write(tmp_path, "20260101000000_two.sql", GOOD_HEADER + "-- comment; with a semicolon\nSELECT 1;\n\nSELECT 2;\n")
    write(tmp_path, "20250101000000_one.sql", "-- mutation: yes\n-- idempotent: no\nALTER TABLE x DELETE WHERE 1;")
    [one, two] = load_migrations(tmp_path)
    assert (one.version, one.name, one.mutation, one.idempotent) == ("20250101000000", "one", True, False)
    assert two.statements == ("SELECT 1", "SELECT 2")


@pytest.mark.parametrize("name", ["1_short.sql", "20260101000000-dash.sql", "20260101000000_Upper.sql", "points.sql"])
def test_a_file_with_a_malformed_name_is_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, GOOD_HEADER + "SELECT 1;")
    with pytest.raises(ValueError, match=f"cannot load migration {name}: expected"):
        load_migrations(tmp_path)


@pytest.mark.parametrize(
    "text", ["SELECT 1;", "-- mutation: no\nSELECT 1;", "-- idempotent: yes\nSELECT 1;", "-- mutation: maybe\n"]
)
def test_a_file_without_both_headers_is_refused(tmp_path: Path, text: str) -> None:
    write(tmp_path, "20260101000000_x.sql", text)
    with pytest.raises(ValueError, match="must declare '-- mutation:' and '-- idempotent:'"):
        load_migrations(tmp_path)


def test_two_files_with_the_same_version_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "20260101000000_a.sql", GOOD_HEADER + "SELECT 1;")
    write(tmp_path, "20260101000000_b.sql", GOOD_HEADER + "SELECT 2;")
    with pytest.raises(ValueError, match="20260101000000"):
        load_migrations(tmp_path)


def test_window_rows_are_stored_in_granules_of_a_mebibyte(store: Store) -> None:
    """A window row carries its histogram's pages (~18 KB uncompressed here), so ClickHouse's default
    granules of 10 MiB held hundreds of them and a read of a few windows decoded them all; ``rollups``
    is created with granules of 1 MiB (the 400 rows here: 2 marks with the default, 7 with 1 MiB)."""
    rng = np.random.default_rng(7)
    rows = [
        window_row(rng.lognormal(3.0, 1.0, 2_500), window_start_ms=BASE_MS + i * 10_000, window_ms=10_000)
        for i in range(400)
    ]
    insert_rows(store, rows)
    store.command("OPTIMIZE TABLE rollups FINAL")
    [(parts, stored, marks, row_bytes)] = store.rows(
        "SELECT count(), sum(rows), sum(marks), sum(data_uncompressed_bytes) / sum(rows) "
        "FROM system.parts WHERE database = currentDatabase() AND table = 'rollups' AND active"
    )
    assert parts == 1 and stored == len(rows) and row_bytes > 5_000, (parts, stored, row_bytes)
    mebibyte_rows = 1_048_576 / row_bytes
    assert stored / marks <= 2 * mebibyte_rows, f"{stored} rows in {marks} marks of {row_bytes:.0f}-byte rows"
