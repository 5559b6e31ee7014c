"""Versioned ClickHouse migrations: ordered SQL files, each applied once and recorded.

A file is named ``<timestamp>_<name>.sql`` and heads itself with ``-- mutation: yes|no`` and
``-- idempotent: yes|no`` (generic migration tools trip over ClickHouse mutations, so each file
says what it is). ``{placeholders}`` are filled from :class:`MigrationParams`. Statements end with
``;``. An idempotent file may run again safely after a crash between a statement and its record.

On a ClickHouse cluster every ``CREATE TABLE`` / ``ALTER TABLE`` names ``{on_cluster}`` after its
table, and every MergeTree-family engine is written ``{replicated}<Family>MergeTree``, as uptrace's
migrations do: with :meth:`MigrationParams.for_cluster` they render as ``ON CLUSTER <name>`` and
``Replicated<Family>MergeTree``, otherwise as nothing. The replicated engines take no ZooKeeper path
or replica name, so each server's ``default_replica_path`` / ``default_replica_name`` (by default
``/clickhouse/tables/{uuid}/{shard}`` and ``{replica}``) decide them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from storage.client import Store, StoreError

__all__ = ["Migration", "MigrationParams", "apply_migrations", "load_migrations"]

_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")
_HEADER = re.compile(r"^--\s*(mutation|idempotent):\s*(yes|no)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class MigrationParams:
    raw_ttl_days: int = 3  # raw points
    rollup_ttl_days: int = 30  # window rows
    tier_1m_ttl_days: int = 90  # per-minute tier
    tier_1h_ttl_days: int = 400  # per-hour tier
    spans_ttl_days: int = 7  # raw spans
    logs_ttl_days: int = 7  # raw log records
    alert_history_ttl_days: int = 90  # alert transitions and notification attempts
    on_cluster: str = ""  # "" or "ON CLUSTER `<name>`": each CREATE/ALTER runs on every node of the cluster
    replicated: str = ""  # "" or "Replicated": the prefix of every MergeTree-family engine

    def for_cluster(self, cluster: str | None) -> MigrationParams:
        """These params rendering for ``cluster`` (a cluster of the servers' ``remote_servers``, or a
        ``{macro}`` naming one), or for one server when it is None or empty. Any name is safe: it is
        written as a quoted identifier."""
        if not cluster:
            return replace(self, on_cluster="", replicated="")
        quoted = cluster.replace("\\", "\\\\").replace("`", "\\`")
        return replace(self, on_cluster=f"ON CLUSTER `{quoted}`", replicated="Replicated")


@dataclass(frozen=True)
class Migration:
    version: str  # the file's timestamp prefix, e.g. "20261127120000"
    name: str
    mutation: bool
    idempotent: bool
    statements: tuple[str, ...]  # with their {placeholders}

    def render(self, params: MigrationParams) -> tuple[str, ...]:
        """The statements with their placeholders filled from ``params``."""
        values = asdict(params)
        return tuple(statement.format(**values) for statement in self.statements)


def load_migrations(directory: Path = _DIR) -> list[Migration]:
    """Read every migration file in version order; raise ``ValueError`` on a malformed one."""
    found: list[Migration] = []
    versions: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"cannot load migration {path.name}: expected <14-digit timestamp>_<name>.sql")
        if match.group(1) in versions:
            raise ValueError(
                f"cannot load migration {path.name}: version {match.group(1)} is also {versions[match.group(1)]} "
                "(applied work is recorded by version, so one of them would never run)"
            )
        versions[match.group(1)] = path.name
        text = path.read_text()
        header = dict(_HEADER.findall(text))
        if set(header) != {"mutation", "idempotent"}:
            raise ValueError(f"cannot load migration {path.name}: it must declare '-- mutation:' and '-- idempotent:'")
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        statements = tuple(s.strip() for s in body.split(";") if s.strip())
        found.append(
            Migration(
                match.group(1),
                match.group(2),
                header["mutation"] == "yes",
                header["idempotent"] == "yes",
                statements,
            )
        )
    return found


def apply_migrations(store: Store, params: MigrationParams | None = None) -> list[Migration]:
    """Apply the migrations not yet recorded in ``schema_migrations``; return those applied."""
    params = params or MigrationParams()
    store.command(
        f"CREATE TABLE IF NOT EXISTS schema_migrations {params.on_cluster} "
        "(version String, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        f"ENGINE = {params.replicated}ReplacingMergeTree ORDER BY version"
    )
    done = {row[0] for row in store.rows("SELECT version FROM schema_migrations")}
    applied = []
    for migration in load_migrations():
        if migration.version in done:
            continue
        # A mutation runs in the background unless asked to finish first: the next migration, and the
        # stages started after migrating, must see it done.
        settings = {"mutations_sync": 2} if migration.mutation else None
        for statement in migration.render(params):
            try:
                store.command(statement, settings=settings)
            except StoreError as exc:
                raise StoreError(f"cannot apply migration {migration.version}_{migration.name}: {exc}") from exc
        store.insert("schema_migrations", [[migration.version], [migration.name]], ["version", "name"])
        applied.append(migration)
    return applied
