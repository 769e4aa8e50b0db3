"""PostgreSQL through psycopg 3: the connection the SQL sites see, and its migrations.

Why psycopg 3 (synchronous) and not asyncpg: the store's call shape is a plain function of one
connection run on the database's own thread (``Database.read``/``write``), the same for SQLite;
psycopg 3 is a DB-API driver with that shape (``execute``/``executemany``/cursors, ``bytes`` for
``bytea``, exact ``int``/``Decimal``), so every SQL site runs unchanged on both engines. asyncpg is
asyncio-only: each site would need an ``async`` twin (or a loop per thread), and the one
transaction per epoch that spans the monitor's state, the ledger and the outbox would have to be
rewritten as coroutines on one engine only.

The connection is in autocommit mode: ``Database`` issues BEGIN/COMMIT itself, exactly as on
SQLite, so a transaction is what ``Database.write`` says it is. A connection the server dropped is
opened again at the next call (never inside a transaction: the call that saw it fail raised).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

import psycopg
import psycopg.sql

from stakepool.chain.redact import redact_text
from stakepool.store.engine import POSTGRESQL, Cursor

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?|%")

CONNECT_TIMEOUT_SECONDS = 10

REPLICA_LIBPQ: Mapping[str, Any] = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 9000,
}
"""A read replica cut off mid-read is given up within about 9 s (TCP keepalives) instead of the
kernel's many minutes, and one that does not answer within 3 s at all: its reads then go to
another replica or to the primary, which a request can wait for, not a hang."""


@functools.lru_cache(maxsize=2048)
def render(sql: str) -> str:
    """A site's SQL for psycopg: ``?`` → ``%s`` outside literals and identifiers, every ``%``
    doubled (psycopg reads ``%`` as its own placeholder marker everywhere in the text)."""

    def one(match: re.Match[str]) -> str:
        found = match[0]
        if found == "?":
            return "%s"
        return found.replace("%", "%%")

    return _TOKEN.sub(one, sql)


def display(url: str) -> str:
    """The URL as logs and errors may show it: no password, no credential parameter."""
    return redact_text(url)


class PgConnection:
    """A psycopg connection speaking the store's SQL (``engine.Connection``)."""

    dialect = POSTGRESQL

    def __init__(
        self,
        url: str,
        password: str | None,
        *,
        application_name: str = "stakepool",
        libpq: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self._password = password
        self.application_name = application_name
        """What ``pg_stat_activity`` shows (``stakepool-reads``: a read replica's sessions)."""
        self._libpq = dict(libpq or {})
        """Connection parameters over the defaults (a read replica's shorter timeouts)."""
        self.setup: tuple[str, ...] = ()
        """Session settings run again on every (re)connection."""
        self._raw = self._open()

    def _open(self) -> psycopg.Connection[Any]:
        extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **self._libpq}
        if self._password:
            extra["password"] = self._password  # else libpq: the URL, a service file or pgpass
        return psycopg.connect(
            self.url,
            autocommit=True,
            application_name=self.application_name,
            **extra,
        )

    def configure(self, statements: tuple[str, ...]) -> None:
        """Session settings, now and after every reconnection."""
        self.setup = statements
        for statement in statements:
            self._raw.execute(statement)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self._raw.execute(render(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        cursor = self._raw.cursor()
        rows = [tuple(p) for p in parameters]
        if rows:
            cursor.executemany(render(sql), rows)
        return cursor

    def copy_in(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Rows into ``table`` by COPY (``ledger migrate``: a million rows in seconds, where one
        INSERT each would take minutes); inside the caller's transaction."""
        statement = psycopg.sql.SQL("COPY {} ({}) FROM STDIN").format(
            psycopg.sql.Identifier(table),
            psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(c) for c in columns),
        )
        with self._raw.cursor().copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def stream(self, sql: str, batch: int) -> Iterator[Any]:
        """Rows of a long read fetched ``batch`` at a time by a server-side cursor (inside the
        caller's transaction): a table of any size read back without holding it in memory."""
        with self._raw.cursor(name="stakepool_stream") as cursor:
            cursor.itersize = batch
            cursor.execute(render(sql))
            yield from cursor

    def run_script(self, script: str) -> None:
        """A migration file as it is (several statements, function bodies): no placeholders."""
        self._raw.execute(script.encode("utf-8"))

    def ensure_open(self) -> None:
        """Before a call: a connection lost since the last one (a server restart) is reopened."""
        if self._raw.closed:
            self._raw = self._open()
            for statement in self.setup:
                self._raw.execute(statement)

    def sibling(self) -> PgConnection:
        """A second connection to the same database (a long read beside this one)."""
        return PgConnection(
            self.url, self._password, application_name=self.application_name, libpq=self._libpq
        )

    @property
    def lost(self) -> bool:
        """The session is gone (psycopg closes a connection whose server went away)."""
        return self._raw.closed

    @property
    def in_transaction(self) -> bool:
        return self._raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self._raw.close()


def make_read_only(conn: PgConnection) -> None:
    """Every transaction of this session refuses to write (``ledger export``, a read replica),
    after a reconnection too."""
    conn.configure((*conn.setup, "SET default_transaction_read_only = on"))


def schema_version(conn: PgConnection) -> int:
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if exists is None:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version bigint PRIMARY KEY, name text NOT NULL,"
    " applied_at text NOT NULL DEFAULT (" + POSTGRESQL.now + "))"
)


def migration_files() -> list[tuple[str, str]]:
    """``(file name, SQL)`` of the PostgreSQL set (``migrations/postgresql/``)."""
    folder = resources.files("stakepool.store.migrations").joinpath("postgresql")
    return [(e.name, e.read_text(encoding="utf-8")) for e in folder.iterdir() if e.is_file()]
