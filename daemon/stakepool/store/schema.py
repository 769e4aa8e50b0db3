"""Versioned migrations of both engines: the files, their order, applying what is missing.

SQLite's set is ``migrations/NNNN_name.sql``, PostgreSQL's ``migrations/postgresql/NNNN_name.sql``:
the same numbers and names, each building the same tables in its engine's terms (a contract test
compares them). Each migration is applied in its own transaction and recorded in
``schema_migrations``; a database written by a newer stakepool (a version we do not know) is
refused, never downgraded.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from stakepool.store import detail_migration, pg
from stakepool.store.engine import SQLITE, Connection
from stakepool.store.errors import DatabaseError

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


_PYTHON_STEPS: dict[str, Callable[[Any], None]] = {
    "compact_detail": detail_migration.convert,
}
"""Data conversions SQL cannot do, run after a migration's SQL in its transaction (keyed by the
migration's name, so renumbering a migration file moves its step with it). SQLite's set only: no
PostgreSQL ledger predates them (its set builds the converted schema, and refuses old rows)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    step: Callable[[Any], None] | None = None


def bundled_migrations(engine: str = SQLITE.name) -> tuple[Migration, ...]:
    """The package's migrations for ``engine``, ordered; numbering gaps or duplicates are a
    packaging bug."""
    found: list[Migration] = []
    if engine == SQLITE.name:
        files = [
            (e.name, e.read_text(encoding="utf-8"))
            for e in resources.files("stakepool.store.migrations").iterdir()
            if e.is_file()
        ]
    else:
        files = pg.migration_files()
    for file_name, sql in files:
        match = _MIGRATION_NAME.match(file_name)
        if match:
            version = int(match[1])
            step = _PYTHON_STEPS.get(match[2]) if engine == SQLITE.name else None
            found.append(Migration(version, match[2], sql, step))
    found.sort(key=lambda m: m.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise DatabaseError(f"migrations are not numbered 1..n: {[m.version for m in found]}")
    return tuple(found)


def schema_version(conn: Connection) -> int:
    if isinstance(conn, pg.PgConnection):
        return pg.schema_version(conn)
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def newer_schema_error(current: int, known: int) -> DatabaseError:
    return DatabaseError(
        f"the database has schema version {current}, this stakepool knows up to {known}: "
        "it was written by a newer release; upgrade stakepool instead"
    )


def _migrate_postgresql(conn: pg.PgConnection, migrations: tuple[Migration, ...]) -> int:
    """Each migration in one transaction under the write lock, the version read again inside it:
    two instances starting together on one database apply each migration once."""
    known = migrations[-1].version if migrations else 0
    current = pg.schema_version(conn)
    if current == known:
        return current  # the usual start: nothing to apply, no lock taken
    for migration in (None, *migrations):
        for statement in conn.dialect.begin_write:
            conn.execute(statement)
        try:
            conn.execute(pg.SCHEMA_MIGRATIONS)
            current = pg.schema_version(conn)
            if current > known:
                raise newer_schema_error(current, known)
            if migration is not None and migration.version > current:
                conn.run_script(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
                current = migration.version
        except psycopg.Error as exc:
            conn.execute("ROLLBACK")
            name = "schema_migrations" if migration is None else migration.name
            number = 0 if migration is None else migration.version
            raise DatabaseError(f"migration {number:04d}_{name} failed: {exc}") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return current


def migrate(conn: Connection, migrations: tuple[Migration, ...]) -> int:
    """Apply what is missing, each migration in one transaction; returns the resulting version."""
    if isinstance(conn, pg.PgConnection):
        return _migrate_postgresql(conn, migrations)
    assert isinstance(conn, sqlite3.Connection)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT"
    )
    current = schema_version(conn)
    known = migrations[-1].version if migrations else 0
    if current > known:
        raise newer_schema_error(current, known)
    for migration in migrations:
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            if migration.step is not None:
                migration.step(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
        except (sqlite3.Error, detail_migration.DetailMigrationError) as exc:
            conn.execute("ROLLBACK")
            raise DatabaseError(
                f"migration {migration.version:04d}_{migration.name} failed: {exc}"
            ) from exc
        conn.execute("COMMIT")
        current = migration.version
    return current


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT our transaction first; split on complete statements instead.
    out: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                out.append(buffer)
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise DatabaseError(f"incomplete SQL statement in a migration: {buffer.strip()[:80]!r}")
    return out
