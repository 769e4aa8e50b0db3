"""Move a SQLite ledger into a PostgreSQL database (``stakepool ledger migrate``), verified.

Every table of the schema is copied (the ledger, its journals, delegations, statements and
commitments, the monitor's kept state, the outbox, windows, detail blobs, roll-ups, the writer
row), in one transaction on the target: it commits whole, or nothing of it does. Before COMMIT
each table is read back in key order and compared with the source: the row count and a SHA-256
over every row's values must match, or the transaction is rolled back.

Final rows are immutable by triggers on PostgreSQL (an INSERT under a final epoch is refused).
The copy disables the tables' *user* triggers (``ALTER TABLE … DISABLE TRIGGER USER``) inside its
transaction and enables them again before COMMIT. Why this and not the alternatives:

* ``session_replication_role = replica`` needs a superuser (or a grant few operators give the
  ledger's role), and it also switches off the foreign-key checks: a copy that broke a reference
  would commit;
* inserting epochs as provisional and flipping them to final afterwards needs one rule per
  trigger (epochs, validator rows, detail blobs, roll-ups, commitments) and breaks silently when a
  migration adds a trigger.

``DISABLE TRIGGER USER`` is allowed to the tables' owner (the role that ran the migrations), keeps
the foreign keys enforced (those are system triggers), and is transactional: the ALTER holds an
exclusive lock on each table until COMMIT, so no other session ever sees a table without its
triggers, and a rollback restores them with everything else.

Identity columns (outbox, journals, payouts, reversals) are copied with their ids; each sequence
is then set past the largest copied id, so the next row a daemon writes takes a fresh one.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from stakepool.store import pg
from stakepool.store.database import Database
from stakepool.store.errors import DatabaseError
from stakepool.store.schema import bundled_migrations

BATCH_ROWS = 5_000
"""Rows read from the source per fetch: a million-delegator ledger is streamed, never loaded."""

SEEDED = {"ledger_writer": [(1, 0, "")]}
"""Rows the migrations write themselves (table → rows by column order up to ``holder``): a
target holding only these is still empty."""


class MigrateRefused(DatabaseError):
    """The move was refused before anything was written (the message says why)."""


@dataclass(frozen=True, slots=True)
class TableCopy:
    name: str
    rows: int
    digest: str
    """SHA-256 (hex) over every row's values, in key order; equal on both sides."""


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    text: frozenset[str]
    identity: tuple[str, ...]


def open_source(path: str) -> sqlite3.Connection:
    """The SQLite ledger, read only; refused when it is not a stakepool ledger of this schema."""
    if not Path(path).is_file():
        raise MigrateRefused(f"{path}: no such file")
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise MigrateRefused(f"{path}: cannot be opened read-only ({exc})") from exc
    try:
        has = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name IN ('schema_migrations', 'ledger_epochs')"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise MigrateRefused(f"{path}: not a stakepool ledger ({exc})") from exc
    if len(has) != 2:
        conn.close()
        raise MigrateRefused(f"{path}: not a stakepool ledger (no schema_migrations/ledger_epochs)")
    version = int(
        conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    )
    known = bundled_migrations()[-1].version
    if version != known:
        conn.close()
        hint = (
            "start this stakepool on it once (it migrates on open), then migrate"
            if version < known
            else "it was written by a newer release: migrate with that release"
        )
        raise MigrateRefused(
            f"{path}: schema version {version}, this stakepool's is {known}: the schema versions"
            f" differ; {hint}"
        )
    return conn


def check_target(conn: pg.PgConnection) -> None:
    """Before migrating the target: refuse a database that holds tables of something else, or a
    stakepool schema newer than ours (an older one is migrated, then checked empty)."""
    version = pg.schema_version(conn)
    known = bundled_migrations("postgresql")[-1].version
    if version > known:
        raise MigrateRefused(
            f"{pg.display(conn.url)}: schema version {version}, this stakepool's is {known}:"
            " the schema versions differ (written by a newer release)"
        )
    if version == 0:
        others = [str(r[0]) for r in conn.execute(_PG_TABLES)]
        if others:
            raise MigrateRefused(
                f"{pg.display(conn.url)}: the target is not empty: it holds tables that are not a"
                f" stakepool ledger ({', '.join(sorted(others)[:5])}); give an empty database"
            )


_PG_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    " AND NOT c.relispartition"
)
"""The schema's tables; a partition (of ``validator_epoch_detail``, migration 0011) is its
parent's rows, copied and compared through the parent."""


def _target_tables(conn: pg.PgConnection) -> dict[str, _Table]:
    names = [_name(r[0]) for r in conn.execute(_PG_TABLES) if r[0] != "schema_migrations"]
    out: dict[str, _Table] = {}
    for name in names:
        cols = conn.execute(
            "SELECT column_name, data_type, is_identity FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (name,),
        ).fetchall()
        key = conn.execute(
            "SELECT a.attname FROM pg_index i"
            " JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            " WHERE i.indrelid = ?::regclass AND i.indisprimary ORDER BY k.n",
            (name,),
        ).fetchall()
        columns = tuple(_name(c[0]) for c in cols)
        out[name] = _Table(
            name=name,
            columns=columns,
            key=tuple(_name(k[0]) for k in key) or columns,
            text=frozenset(str(c[0]) for c in cols if c[1] == "text"),
            identity=tuple(str(c[0]) for c in cols if c[2] == "YES"),
        )
    return out


def _copy_order(conn: pg.PgConnection, tables: dict[str, _Table]) -> list[_Table]:
    """Referenced tables before the tables that reference them (foreign keys stay enforced)."""
    needs: dict[str, set[str]] = {name: set() for name in tables}
    for child, parent in conn.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
        " WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
    ):
        if str(child) in needs and str(parent) != str(child):
            needs[str(child)].add(str(parent))
    ordered: list[_Table] = []
    while needs:
        ready = sorted(n for n, deps in needs.items() if not deps & needs.keys())
        if not ready:
            raise DatabaseError(f"foreign keys form a cycle among {sorted(needs)}")
        for name in ready:
            ordered.append(tables[name])
            del needs[name]
    return ordered


def _source_tables(source: sqlite3.Connection) -> dict[str, set[str]]:
    names = [
        str(r[0])
        for r in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'"
        )
    ]
    return {n: {str(c[1]) for c in source.execute(f'PRAGMA table_info("{n}")')} for n in names}


def _canonical(row: Iterable[Any]) -> bytes:
    """One row's values as bytes both engines give alike (a PostgreSQL SUM-free read is ``int``
    already; ``Decimal`` only if a column were numeric)."""
    parts: list[bytes] = []
    for value in row:
        if value is None:
            parts.append(b"N")
        elif isinstance(value, bool):
            parts.append(b"I" + str(int(value)).encode())
        elif isinstance(value, int):
            parts.append(b"I" + str(value).encode())
        elif isinstance(value, Decimal) and value == value.to_integral_value():
            parts.append(b"I" + str(int(value)).encode())
        elif isinstance(value, str):
            data = value.encode("utf-8")
            parts.append(b"S%d:" % len(data) + data)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            parts.append(b"B%d:" % len(data) + data)
        else:
            parts.append(b"R" + repr(value).encode())
    body = b"|".join(parts)
    return b"%d;" % len(body) + body


class _Tally:
    """The count and digest of the rows streamed through it (the source side of the check)."""

    def __init__(self) -> None:
        self.count = 0
        self.digest = hashlib.sha256()

    def through(self, rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        for row in rows:
            self.digest.update(_canonical(row))
            self.count += 1
            yield row


_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _name(found: object) -> str:
    """A table or column name from the catalogue, checked plain: it is quoted into SQL text."""
    text = str(found)
    if not _NAME.fullmatch(text):
        raise DatabaseError(f"unexpected table or column name {text!r} in the schema")
    return text


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _source_rows(source: sqlite3.Connection, table: _Table) -> Iterator[tuple[Any, ...]]:
    # SQLite's BINARY collation is byte order of UTF-8: PostgreSQL's "C", used below.
    cursor = source.execute(
        f'SELECT {_quoted(table.columns)} FROM "{table.name}" ORDER BY {_quoted(table.key)}'  # noqa: S608 - checked catalogue names
    )
    while batch := cursor.fetchmany(BATCH_ROWS):
        yield from (tuple(r) for r in batch)


def _target_digest(conn: pg.PgConnection, table: _Table) -> tuple[int, str]:
    order = ", ".join(f'"{k}" COLLATE "C"' if k in table.text else f'"{k}"' for k in table.key)
    digest = hashlib.sha256()
    count = 0
    for row in conn.stream(
        f'SELECT {_quoted(table.columns)} FROM "{table.name}" ORDER BY {order}',  # noqa: S608 - checked catalogue names
        BATCH_ROWS,
    ):
        digest.update(_canonical(row))
        count += 1
    return count, digest.hexdigest()


def _holds_data(conn: pg.PgConnection, tables: Iterable[_Table]) -> list[str]:
    found: list[str] = []
    for table in tables:
        rows = conn.execute(f'SELECT * FROM "{table.name}" LIMIT 2').fetchall()  # noqa: S608 - checked catalogue names
        seeded = SEEDED.get(table.name)
        if rows and not (
            seeded is not None and [tuple(r)[: len(seeded[0])] for r in rows] == seeded
        ):
            found.append(table.name)
    return found


def copy_all(source: sqlite3.Connection, conn: pg.PgConnection) -> list[TableCopy]:
    """Inside the caller's write transaction on ``conn`` (a migrated target): check it empty,
    copy every table, advance the identities, verify row for row. Raises to roll back."""
    tables = _target_tables(conn)
    theirs = _source_tables(source)
    if set(theirs) != set(tables):
        raise MigrateRefused(
            "the source and the target schemas differ: tables only in the source"
            f" {sorted(set(theirs) - set(tables))}, only in the target"
            f" {sorted(set(tables) - set(theirs))}"
        )
    for name, table in tables.items():
        if theirs[name] != set(table.columns):
            raise MigrateRefused(
                f"the source and the target schemas differ in table {name}:"
                f" {sorted(theirs[name] ^ set(table.columns))}"
            )
    busy = _holds_data(conn, tables.values())
    if busy:
        raise MigrateRefused(
            f"{pg.display(conn.url)}: the target is not empty (rows in {', '.join(sorted(busy))});"
            " migrate into a fresh database (nothing was written)"
        )
    ordered = _copy_order(conn, tables)
    for table in ordered:
        conn.execute(f'ALTER TABLE "{table.name}" DISABLE TRIGGER USER')
    for name in SEEDED:
        conn.execute(f'DELETE FROM "{name}"')  # noqa: S608 - checked catalogue names
    if "validator_epoch_detail" in tables:  # its partitions, before COPY routes rows into them
        span = source.execute("SELECT MIN(epoch), MAX(epoch) FROM validator_epoch_detail")
        first, last = span.fetchone()
        conn.execute("SELECT stakepool_detail_partitions(?, ?)", (first, last))
    copied: list[TableCopy] = []
    for table in ordered:
        tally = _Tally()
        conn.copy_in(table.name, table.columns, tally.through(_source_rows(source, table)))
        copied.append(TableCopy(table.name, tally.count, tally.digest.hexdigest()))
        for column in table.identity:
            top = conn.execute(f'SELECT MAX("{column}") FROM "{table.name}"').fetchone()[0]  # noqa: S608 - checked catalogue names
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(?, ?), ?, ?)",
                (f'"{table.name}"', column, int(top or 1), top is not None),
            )
    for table in ordered:
        conn.execute(f'ALTER TABLE "{table.name}" ENABLE TRIGGER USER')
    for want in copied:
        count, digest = _target_digest(conn, tables[want.name])
        if (count, digest) != (want.rows, want.digest):
            raise DatabaseError(
                f"verification failed on {want.name}: the source has {want.rows} row(s)"
                f" sha256 {want.digest[:16]}…, the target {count} sha256 {digest[:16]}…;"
                " rolled back, nothing was written"
            )
    return copied


def migrate_ledger(source_path: str, url: str, password: str | None) -> list[TableCopy]:
    """The whole move: the source checked, the target checked and migrated, every table copied
    and verified in one transaction. ``MigrateRefused``/``DatabaseError`` say why not."""
    source = open_source(source_path)
    try:
        try:
            probe = pg.PgConnection(url, password)
        except psycopg.Error as exc:
            raise DatabaseError(f"{pg.display(url)}: {pg.display(str(exc)).strip()}") from exc
        try:
            check_target(probe)
        finally:
            probe.close()
        target = Database.open(url, password=password)
        try:
            # One read transaction on the source: every table is read from the same snapshot
            # (WAL), even if a daemon forgotten on the file settles an epoch meanwhile.
            source.execute("BEGIN")
            return target.write_sync(lambda conn: copy_all(source, _pg(conn)))
        except psycopg.Error as exc:
            raise DatabaseError(f"{target.path}: {pg.display(str(exc)).strip()}") from exc
        finally:
            target.close()
    finally:
        source.close()


def _pg(conn: object) -> pg.PgConnection:
    assert isinstance(conn, pg.PgConnection)
    return conn
