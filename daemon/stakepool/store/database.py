"""The database: SQLite (a file) or PostgreSQL (a URL), versioned migrations, one thread that owns
the connection.

Why these settings: WAL lets readers (the HTTP API) run beside the one writer; ``synchronous=FULL``
makes a committed epoch survive a power cut (the ledger holds money); STRICT tables refuse a value
of the wrong type instead of storing it. Opening applies the missing migrations (``schema.py``).

PostgreSQL (``[ledger] database = "postgresql://…"``, ``store/pg.py``) has its own migration set of
the same numbers and names, final rows immutable by triggers there too; its write transactions
take one advisory lock, so writes stay totally ordered as on SQLite. SQL sites see either engine
as an ``engine.Connection``.

sqlite3 and psycopg block, so every call runs on the database's own single thread (``read``/
``write`` from asyncio, ``read_sync``/``write_sync`` from plain code such as tests and benchmarks). One thread also
means one connection and a total order of writes, which is what the single-writer ledger wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import psycopg

from stakepool.store import disk, pg
from stakepool.store.engine import SQLITE, Connection, Dialect, dialect_of, is_postgresql_url
from stakepool.store.errors import STORE_ERRORS, DatabaseError, DatabaseUnavailable, OutOfSpace
from stakepool.store.schema import (
    Migration,
    bundled_migrations,
    migrate,
    newer_schema_error,
    schema_version,
)
from stakepool.store.space import SpaceState, is_out_of_space
from stakepool.store.unit import UnitOfWork

T = TypeVar("T")

__all__ = [
    "STORE_ERRORS",
    "Database",
    "DatabaseError",
    "Migration",
    "OutOfSpace",
    "bundled_migrations",
    "migrate",
    "schema_version",
]


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


class Database:
    """One database (a SQLite file or a PostgreSQL database), migrated on open, used from one
    thread."""

    def __init__(self, path: str, conn: Connection, executor: ThreadPoolExecutor) -> None:
        self.path = path
        """The SQLite file, or the PostgreSQL URL without its password (fit for a log line)."""
        self._conn = conn
        self._executor = executor
        self._thread_id: int | None = None
        self._closed = False
        self.dialect: Dialect = dialect_of(conn)
        self.fence: Callable[[Connection], None] | None = None
        """Run inside every write transaction, before its COMMIT (``store/writer.py``: the
        writer's term); raising refuses the transaction."""
        self.space = SpaceState()
        """Whether the last write failed for lack of space (``/readyz``, metrics)."""

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        migrations: tuple[Migration, ...] | None = None,
        password: str | None = None,
    ) -> Database:
        """Open (creating if needed) and migrate; ``DatabaseError`` names the file and the problem.
        ``path`` may be a ``postgresql://`` URL (``password``: the ``ledger_password`` credential;
        without it libpq reads the URL, a service file or ``~/.pgpass``)."""
        target = str(path)
        if is_postgresql_url(target):
            return cls._open_postgresql(target, password, migrations, read_only=False)
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
            db._call_sync(lambda c: disk.convert_if_cheap(_sqlite(c), target))
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
    def _open_postgresql(
        cls,
        url: str,
        password: str | None,
        migrations: tuple[Migration, ...] | None,
        *,
        read_only: bool,
        replica: bool = False,
    ) -> Database:
        shown = pg.display(url)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stakepool-db")
        connect = functools.partial(
            pg.PgConnection,
            application_name="stakepool-reads" if replica else "stakepool",
            libpq=pg.REPLICA_LIBPQ if replica else None,
        )
        try:
            conn = executor.submit(connect, url, password).result()
        except psycopg.Error as exc:
            executor.shutdown(wait=False)
            raise DatabaseError(f"{shown}: {pg.display(str(exc)).strip()}") from exc
        db = cls(shown, conn, executor)
        try:
            if read_only:
                db._call_sync(lambda c: pg.make_read_only(_pg(c)))
                version, known = db.schema_version, bundled_migrations("postgresql")[-1].version
                if version > known:
                    raise newer_schema_error(version, known)
            else:
                found = migrations or bundled_migrations("postgresql")
                db._call_sync(lambda c: migrate(c, found))
        except psycopg.Error as exc:
            db.close()
            raise DatabaseError(f"{shown}: {pg.display(str(exc)).strip()}") from exc
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def open_read_only(cls, path: str | Path, *, password: str | None = None) -> Database:
        """Open an existing database to read it only (``ledger export``): no migration, no WAL
        switch, no write; works on read-only media. Writes through it fail."""
        target = str(path)
        if is_postgresql_url(target):
            return cls._open_postgresql(target, password, None, read_only=True)
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

    @classmethod
    def open_replica(cls, url: str, *, password: str | None = None) -> Database:
        """A PostgreSQL streaming replica of the ledger, read only (``store/replicas.py``): no
        migration, every transaction read-only, its sessions named ``stakepool-reads``, shorter
        timeouts (``pg.REPLICA_LIBPQ``)."""
        return cls._open_postgresql(url, password, None, read_only=True, replica=True)

    @property
    def schema_version(self) -> int:
        return self._call_sync(schema_version)

    def configure_session(self, statements: tuple[str, ...]) -> None:
        """PostgreSQL session settings for the store's connection, kept across reconnections."""
        self._call_sync(lambda c: _pg(c).configure(statements))

    @property
    def is_file(self) -> bool:
        """A SQLite file on this host's disk (not ``:memory:``, not a server)."""
        return self.dialect is SQLITE and self.path != ":memory:"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._conn, "close")  # noqa: B009 - both engines' connections have it
        self._executor.submit(close).result()
        self._executor.shutdown(wait=True)

    # --- calls -----------------------------------------------------------------------------------

    def _on_thread(self, fn: Callable[[Connection], T]) -> T:
        if self._thread_id is None:
            self._thread_id = threading.get_ident()
        if isinstance(self._conn, pg.PgConnection):
            self._conn.ensure_open()
            try:
                return fn(self._conn)
            except psycopg.OperationalError as exc:
                if not self._conn.lost:
                    raise
                raise DatabaseUnavailable(
                    f"{self.path}: the session was lost ({pg.display(str(exc)).strip()});"
                    " nothing of this call was committed, the next call opens a new one"
                ) from exc
        return fn(self._conn)

    def _in_transaction(self, fn: Callable[[Connection], T]) -> T:
        conn = self._conn
        try:
            for statement in self.dialect.begin_write:
                conn.execute(statement)
            try:
                result = fn(conn)
                if self.fence is not None:
                    # Last, still under the write lock: as safe as first (a takeover's new term
                    # waits for this transaction), and what ``fn`` learnt stays known to a
                    # standby (the monitor's verdicts, kept in memory for when it takes over).
                    self.fence(conn)
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("COMMIT")
        except (sqlite3.Error, psycopg.Error, OSError) as exc:
            # A failed COMMIT may leave the transaction open (SQLITE_FULL mid-commit): end it, or
            # every later BEGIN would fail although the disk has room again.
            _rollback(conn)
            if not is_out_of_space(exc):
                raise
            self.space.refused(str(exc))
            raise OutOfSpace(f"{self.path}: {exc}") from exc
        self.space.committed()
        return result

    def _call_sync(self, fn: Callable[[Connection], T]) -> T:
        if self._closed:
            raise DatabaseError(f"{self.path}: database is closed")
        if threading.get_ident() == self._thread_id:
            return fn(self._conn)
        return self._executor.submit(self._on_thread, fn).result()

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        return self._call_sync(fn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction: all of it commits or none of it does."""
        return self._call_sync(lambda conn: self._in_transaction(fn))

    def snapshot_sync(self, fn: Callable[[Connection], T]) -> T:
        """``fn`` on a second, read-only connection, in one snapshot (blocking: call it from a
        worker thread): a long read that must not hold up the database's own thread."""
        if not self.is_file and not isinstance(self._conn, pg.PgConnection):
            return self.read_sync(fn)
        if isinstance(self._conn, pg.PgConnection):
            side: Connection = self._conn.sibling()
            begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        else:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            side = sqlite3.connect(uri, uri=True, isolation_level=None)
            begin = "BEGIN"
        try:
            side.execute(begin)
            result = fn(side)
            side.execute("COMMIT")
            return result
        finally:
            getattr(side, "close")()  # noqa: B009

    async def read(self, fn: Callable[[Connection], T]) -> T:
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

    async def write(self, fn: Callable[[Connection], T]) -> T:
        if self._closed:
            raise DatabaseError(f"{self.path}: database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._on_thread, lambda conn: self._in_transaction(fn)
        )


def _sqlite(conn: Connection) -> sqlite3.Connection:
    assert isinstance(conn, sqlite3.Connection)
    return conn


def _pg(conn: Connection) -> pg.PgConnection:
    assert isinstance(conn, pg.PgConnection)
    return conn


def _rollback(conn: Connection) -> None:
    """Undo the transaction; a connection already lost (the server went away) has nothing to
    undo, and the error that ended the transaction is the one to raise, not this one."""
    with contextlib.suppress(psycopg.Error, sqlite3.Error):  # sqlite3: none was open
        conn.execute("ROLLBACK")
