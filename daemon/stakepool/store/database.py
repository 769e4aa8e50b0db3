"""The SQLite database: durable settings, versioned migrations, one thread that owns the connection.

Why these settings: WAL lets readers (the HTTP API) run beside the one writer; ``synchronous=FULL``
makes a committed epoch survive a power cut (the ledger holds money); STRICT tables refuse a value
of the wrong type instead of storing it. Migrations are the ``migrations/NNNN_name.sql`` files of
this package, applied in order, each in its own transaction and recorded in ``schema_migrations``;
a database written by a newer stakepool (a version we do not know) is refused, never downgraded.

sqlite3 blocks, so every call runs on the database's own single thread (``read``/``write`` from
asyncio, ``read_sync``/``write_sync`` from plain code such as tests and benchmarks). One thread also
means one connection and a total order of writes, which is what the single-writer ledger wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

from stakepool.store import detail_migration, disk
from stakepool.store.space import SpaceState, is_out_of_space
from stakepool.store.unit import UnitOfWork

T = TypeVar("T")

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


_PYTHON_STEPS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "compact_detail": detail_migration.convert,
}
"""Data conversions SQL cannot do, run after a migration's SQL in its transaction (keyed by the
migration's name, so renumbering a migration file moves its step with it)."""


class DatabaseError(Exception):
    """The database cannot be used as it is (unreadable, newer schema, failed migration)."""


class OutOfSpace(DatabaseError):
    """A write failed for lack of space on the database's filesystem; its transaction was rolled
    back whole. Not fatal: the same write succeeds once there is room again (``store/space``)."""


STORE_ERRORS: tuple[type[Exception], ...] = (DatabaseError, sqlite3.Error)
"""What a call into the store may raise when the database fails (the disk, a lock, a closed
database): callers outside ``store/`` catch these without knowing the engine."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    step: Callable[[sqlite3.Connection], None] | None = None


def bundled_migrations() -> tuple[Migration, ...]:
    """The package's migrations, ordered; numbering gaps or duplicates are a packaging bug."""
    found: list[Migration] = []
    for entry in resources.files("stakepool.store.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            version = int(match[1])
            sql = entry.read_text(encoding="utf-8")
            found.append(Migration(version, match[2], sql, _PYTHON_STEPS.get(match[2])))
    found.sort(key=lambda m: m.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise DatabaseError(f"migrations are not numbered 1..n: {[m.version for m in found]}")
    return tuple(found)


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what
    # `write` says it is (the sqlite3 module's implicit transactions would split or merge them).
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    disk.prepare(conn)  # a no-op on an existing file (``disk.convert_if_cheap`` converts one)
    if path != ":memory:":
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise DatabaseError(f"{path}: cannot switch to WAL journal mode (got {mode!r})")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _connect_read_only(path: str) -> sqlite3.Connection:
    """Open for reading only, even on read-only media (a backup disk, a read-only mount).

    ``mode=ro`` reads a WAL database whose ``-wal``/``-shm`` files exist or can be created; where
    neither holds (an unwritable directory, no ``-shm``) SQLite cannot open it that way, and
    ``immutable=1`` (no locks, no ``-shm``) is used instead — but only when no write-ahead log is
    left beside the file, since an immutable open would not read it and the export would silently
    miss the last epochs.
    """
    uri = Path(path).resolve().as_uri()
    try:
        conn = sqlite3.connect(
            f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            conn.close()
            raise
        return conn
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise DatabaseError(
                f"{path}: cannot be opened read-only ({exc}) and its write-ahead log {wal} holds"
                " writes an immutable open would miss; copy the directory somewhere writable"
            ) from exc
    conn = sqlite3.connect(
        f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
    )
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...]) -> int:
    """Apply what is missing, each migration in one transaction; returns the resulting version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT"
    )
    current = schema_version(conn)
    known = migrations[-1].version if migrations else 0
    if current > known:
        raise DatabaseError(
            f"the database has schema version {current}, this stakepool knows up to {known}: "
            "it was written by a newer release; upgrade stakepool instead"
        )
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


class Database:
    """One SQLite file, migrated on open, used from one thread."""

    def __init__(self, path: str, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.path = path
        self._conn = conn
        self._executor = executor
        self._thread_id: int | None = None
        self._closed = False
        self.space = SpaceState()
        """Whether the last write failed for lack of space (``/readyz``, metrics)."""

    @classmethod
    def open(cls, path: str | Path, *, migrations: tuple[Migration, ...] | None = None) -> Database:
        """Open (creating if needed) and migrate; ``DatabaseError`` names the file and the problem."""
        target = str(path)
        if target != ":memory:":
            parent = Path(target).parent
            if not parent.is_dir():
                raise DatabaseError(f"{target}: directory {parent} does not exist")
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stakepool-db")
        try:
            conn = executor.submit(_connect, target).result()
        except (sqlite3.Error, DatabaseError) as exc:
            executor.shutdown(wait=False)
            if is_out_of_space(exc):
                raise OutOfSpace(f"{target}: {exc}") from exc
            raise DatabaseError(f"{target}: {exc}") from exc
        db = cls(target, conn, executor)
        try:
            db.write_sync(lambda c: None)  # pins the worker thread id and proves the file writable
            db._call_sync(lambda c: migrate(c, migrations or bundled_migrations()))
            db._call_sync(lambda c: disk.convert_if_cheap(c, target))
        except DatabaseError as exc:
            db.close()
            if not isinstance(exc, OutOfSpace) and is_out_of_space(exc.__cause__ or exc):
                raise OutOfSpace(str(exc)) from exc  # a migration that found no room
            raise
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def open_read_only(cls, path: str | Path) -> Database:
        """Open an existing database to read it only (``ledger export``): no migration, no WAL
        switch, no write; works on read-only media. Writes through it fail."""
        target = str(path)
        if not Path(target).is_file():
            raise DatabaseError(f"{target}: no such database file")
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stakepool-db-ro")
        try:
            conn = executor.submit(_connect_read_only, target).result()
        except (sqlite3.Error, DatabaseError, OSError) as exc:
            executor.shutdown(wait=False)
            if isinstance(exc, DatabaseError):
                raise
            raise DatabaseError(f"{target}: {exc}") from exc
        db = cls(target, conn, executor)
        known = bundled_migrations()[-1].version
        try:
            version = db.schema_version
            if version > known:
                raise DatabaseError(
                    f"{target}: schema version {version}, this stakepool knows up to {known}:"
                    " written by a newer release; upgrade stakepool to read it"
                )
        except BaseException:
            db.close()
            raise
        return db

    @property
    def schema_version(self) -> int:
        return self._call_sync(schema_version)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.submit(self._conn.close).result()
        self._executor.shutdown(wait=True)

    # --- calls -----------------------------------------------------------------------------------

    def _on_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread_id is None:
            self._thread_id = threading.get_ident()
        return fn(self._conn)

    def _in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        # IMMEDIATE takes the write lock up front: a second process (a standby host on the same
        # file) waits for busy_timeout instead of failing half-way through an epoch.
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            # A failed COMMIT may leave the transaction open (SQLITE_FULL mid-commit): end it, or
            # every later BEGIN would fail although the disk has room again.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if not is_out_of_space(exc):
                raise
            self.space.refused(str(exc))
            raise OutOfSpace(f"{self.path}: {exc}") from exc
        self.space.committed()
        return result

    def _call_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise DatabaseError(f"{self.path}: database is closed")
        if threading.get_ident() == self._thread_id:
            return fn(self._conn)
        return self._executor.submit(self._on_thread, fn).result()

    def read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._call_sync(fn)

    def write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one transaction: all of it commits or none of it does."""
        return self._call_sync(lambda conn: self._in_transaction(fn))

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise DatabaseError(f"{self.path}: database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._on_thread, fn)

    async def view(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Read through the unit-of-work interface (no transaction of its own)."""
        return await self.read(lambda conn: fn(UnitOfWork(conn)))

    async def transaction(self, fn: Callable[[UnitOfWork], T]) -> T:
        """``fn`` in one transaction: all of it commits or none of it does."""
        return await self.write(lambda conn: fn(UnitOfWork(conn)))

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise DatabaseError(f"{self.path}: database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._on_thread, lambda conn: self._in_transaction(fn)
        )
