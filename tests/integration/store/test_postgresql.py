"""What only PostgreSQL has to prove: its migration set builds the tables SQLite's builds, a newer
schema is refused, two instances starting together migrate once, text orders as on SQLite, a lost
connection comes back, and a password never shows in an error."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from stakepool.store.database import Database, DatabaseError, bundled_migrations
from stakepool.store.engine import Connection
from stakepool.store.errors import DatabaseUnavailable
from tests.integration import pgkit

_TYPES = {"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}


def _sqlite_schema(path: Path) -> dict[str, list[tuple[str, str, bool]]]:
    db = Database.open(path)

    def read(conn: Connection) -> dict[str, list[tuple[str, str, bool]]]:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            t: sorted(
                (str(c[1]), _TYPES[str(c[2])], bool(c[3]) or bool(c[5]))
                for c in conn.execute(f"PRAGMA table_info({t})")
            )
            for t in tables
        }

    try:
        return db.read_sync(read)
    finally:
        db.close()


def _pg_schema(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    db = Database.open(url)

    def read(conn: Connection) -> dict[str, list[tuple[str, str, bool]]]:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable = 'NO'"
            " FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
        out: dict[str, list[tuple[str, str, bool]]] = {}
        for table, column, kind, not_null in rows:
            out.setdefault(str(table), []).append((str(column), str(kind), bool(not_null)))
        return {t: sorted(c) for t, c in sorted(out.items())}

    try:
        return db.read_sync(read)
    finally:
        db.close()


def _triggers_sqlite(path: Path) -> set[str]:
    db = Database.open(path)
    try:
        return db.read_sync(
            lambda c: {
                str(r[0]) for r in c.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
            }
        )
    finally:
        db.close()


def _triggers_pg(url: str) -> set[str]:
    db = Database.open(url)
    try:
        return db.read_sync(
            lambda c: {
                str(r[0]) for r in c.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            }
        )
    finally:
        db.close()


def test_both_migration_sets_build_the_same_tables(tmp_path: Path, postgres_admin: str) -> None:
    sqlite_versions = [(m.version, m.name) for m in bundled_migrations()]
    pg_versions = [(m.version, m.name) for m in bundled_migrations("postgresql")]
    assert pg_versions == sqlite_versions  # the same numbers and names: one schema version
    with pgkit.fresh_database(postgres_admin) as url:
        pg_schema, pg_triggers = _pg_schema(url), _triggers_pg(url)
    sqlite_schema = _sqlite_schema(tmp_path / "l.sqlite")
    assert pg_schema == sqlite_schema  # every table, column, type class and NOT NULL
    assert pg_triggers == _triggers_sqlite(tmp_path / "l.sqlite")  # every guard of final rows


def test_a_postgresql_database_from_a_newer_release_is_refused(postgres_admin: str) -> None:
    with pgkit.fresh_database(postgres_admin) as url:
        Database.open(url).close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
        with pytest.raises(DatabaseError, match=r"schema version 999.*newer release"):
            Database.open(url)
        with pytest.raises(DatabaseError, match=r"schema version 999.*newer release"):
            Database.open_read_only(url)


def test_instances_starting_together_migrate_once(postgres_admin: str) -> None:
    with pgkit.fresh_database(postgres_admin) as url:
        opened: list[Database] = []
        failed: list[BaseException] = []

        def start() -> None:
            try:
                opened.append(Database.open(url))
            except BaseException as exc:
                failed.append(exc)

        threads = [threading.Thread(target=start) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not failed, failed
        versions = opened[0].read_sync(
            lambda c: [int(r[0]) for r in c.execute("SELECT version FROM schema_migrations")]
        )
        assert sorted(versions) == list(range(1, len(bundled_migrations()) + 1))
        for db in opened:
            db.close()


def test_text_orders_by_bytes_as_on_sqlite(tmp_path: Path, postgres_admin: str) -> None:
    ids = ["b", "B", "a", "Z", "é", "_x", "10", "9"]

    def order(target: str) -> list[str]:
        db = Database.open(target)
        try:
            db.write_sync(
                lambda c: c.executemany(
                    "INSERT INTO delegators (id) VALUES (?)", [(i,) for i in ids]
                )
            )
            return db.read_sync(
                lambda c: [str(r[0]) for r in c.execute("SELECT id FROM delegators ORDER BY id")]
            )
        finally:
            db.close()

    with pgkit.fresh_database(postgres_admin) as url:
        assert order(url) == order(str(tmp_path / "l.sqlite")) == sorted(ids, key=str.encode)


async def test_a_connection_the_server_dropped_is_opened_again(postgres_admin: str) -> None:
    with pgkit.fresh_database(postgres_admin) as url:
        db = Database.open(url)
        try:
            pid = db.read_sync(lambda c: int(c.execute("SELECT pg_backend_pid()").fetchone()[0]))
            with psycopg.connect(postgres_admin, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(DatabaseUnavailable, match="the session was lost"):
                await db.read(lambda c: c.execute("SELECT 1").fetchone())
            # The next call (the next epoch's retry) runs on a new session.
            assert db.read_sync(lambda c: c.execute("SELECT 1").fetchone()[0]) == 1
            db.write_sync(lambda c: c.execute("INSERT INTO counters VALUES ('x', 1)"))
        finally:
            db.close()


def test_a_password_never_shows_in_an_error() -> None:
    url = "postgresql://pool:Never-Shown-Pw@127.0.0.1:1/ledger"
    with pytest.raises(DatabaseError) as caught:
        Database.open(url)
    assert "Never-Shown-Pw" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
    with pytest.raises(DatabaseError) as caught:
        Database.open("postgresql://pool@127.0.0.1:1/ledger", password="Credential-Pw-2")
    assert "Credential-Pw-2" not in str(caught.value)
