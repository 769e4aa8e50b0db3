"""The engine seam: what every SQL site may assume of a connection, and what differs per engine.

The store runs on SQLite (a file, ``sqlite3``) or PostgreSQL (a URL, ``psycopg`` 3 in its
synchronous form, on the same one-thread-per-database call shape). SQL sites take a
``Connection`` and write one SQL text for both engines:

* placeholders are ``?`` (the PostgreSQL connection renders them as its own, ``pg.render``);
* upserts are ``INSERT … ON CONFLICT (…) DO UPDATE SET col = <table>.col + excluded.col`` (the
  target's columns qualified: PostgreSQL refuses a bare name there as ambiguous) or
  ``ON CONFLICT DO NOTHING`` (never SQLite's ``INSERT OR IGNORE``);
* ``RETURNING`` works on both (SQLite >= 3.35);
* integers are 64-bit on both (SQLite INTEGER, PostgreSQL ``bigint``; ``ledger/store/bounds.py``
  keeps every amount and every sum of them within 2^63 - 1); a SUM reads back as ``int`` on
  SQLite and as an exact ``Decimal`` on PostgreSQL, so callers take ``int(...)`` of it;
* blobs are ``bytes`` in and out (BLOB, ``bytea``);
* what cannot be written once for both is a ``Dialect`` attribute: the current UTC time as ISO
  text (``dialect_of(conn).now``), how a write transaction begins, whether advisory locks exist.

Schemas differ more (triggers, identity columns, collation): each engine has its own migration set
of the same numbers and names (``migrations/`` and ``migrations/postgresql/``), and a contract test
compares the schemas they build.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

EngineName = Literal["sqlite", "postgresql"]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the SQL sites use (``sqlite3.Connection`` is one as it is)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    name: EngineName
    now: str
    """SQL expression: the current UTC time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` text."""
    begin_write: tuple[str, ...]
    """Start a write transaction that excludes every other writer of the database."""
    advisory_locks: bool
    """Session advisory locks exist (PostgreSQL): what a fenced writer needs."""


WRITE_LOCK_KEY = 7_428_150_339
"""PostgreSQL advisory lock key of the write transactions (any bigint; stakepool's own)."""

SQLITE = Dialect(
    name="sqlite",
    now="strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    # IMMEDIATE takes the write lock up front: a second process on the same file waits for
    # busy_timeout instead of failing half-way through an epoch.
    begin_write=("BEGIN IMMEDIATE",),
    advisory_locks=False,
)

POSTGRESQL = Dialect(
    name="postgresql",
    now="to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
    # The same exclusion as SQLite's IMMEDIATE: every write transaction of every process on the
    # database takes this transaction-scoped lock first, so writes stay totally ordered (the
    # single-writer ledger's assumption) even with a second instance on the same database.
    begin_write=("BEGIN", f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"),
    advisory_locks=True,
)


def dialect_of(conn: Connection) -> Dialect:
    """The engine behind ``conn`` (a PostgreSQL connection says so; a sqlite3 one is itself)."""
    found = getattr(conn, "dialect", None)
    return found if isinstance(found, Dialect) else SQLITE


def is_postgresql_url(target: str) -> bool:
    """``[ledger] database`` names a PostgreSQL server rather than a SQLite file."""
    return target.startswith(("postgresql://", "postgres://"))
