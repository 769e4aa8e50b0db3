"""One writer of a PostgreSQL ledger among several instances, fenced by a term.

Every instance follows the chain and monitors; exactly one settles the ledger, drains the outbox
and accepts delegation writes. It is the instance holding a session advisory lock on its own,
dedicated session (``WriterLease``). Taking the lock, it increments the **term** in the
``ledger_writer`` row (migration 0009) and names itself; every write transaction then checks,
inside the transaction and under the write lock (``engine.POSTGRESQL.begin_write``), that the
row's term is still its own (``WriterLease.check``, installed as ``Database.fence``). A writer
that was paused (GC, SIGSTOP, a partition) and lost the lock meanwhile finds a newer term and
writes nothing: the transaction raises ``NotWriterError`` and rolls back.

How a paused writer loses the lock: its lease session sets ``idle_session_timeout`` to the lease,
and pings more often than that while alive; paused, it pings no more, the server ends the
session and with it the lock, and a standby (trying every quarter lease) takes it over. The
store's own session sets ``idle_in_transaction_session_timeout`` likewise (``fence_session``),
so a writer paused inside a transaction cannot hold the write lock the takeover's term increment
waits for. A standby reads nothing back from the writer: after the takeover it resumes from what
the database holds (the last committed epoch).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from stakepool.store.engine import WRITE_LOCK_KEY, Connection
from stakepool.store.errors import DatabaseError

WRITER_LOCK_KEY = 7_428_150_340
"""The session advisory lock whose holder is the ledger's writer (stakepool's own key)."""
MIN_LEASE_SECONDS = 1.0
"""Below this a busy host's scheduling hiccup would pass for a dead writer."""

Role = Literal["writer", "standby"]


class NotWriterError(DatabaseError):
    """A write refused on this instance: it is a standby, or was the writer and lost the lock
    (its term is not the row's any more). Nothing was written; the message names the writer."""


def default_instance() -> str:
    """An instance's name when ``[ledger] instance`` gives none: host and process."""
    import os  # noqa: PLC0415 - only here

    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class WriterView:
    """The row as last read: who writes and under which term."""

    term: int
    holder: str


class WriterLease:
    """The advisory lock on a dedicated session, and the fence every write transaction runs.

    ``step`` (blocking: call it off the event loop, every quarter lease) takes the lock when it is
    free and keeps it alive while held; ``check`` runs inside each write transaction on the
    store's own connection."""

    def __init__(
        self, url: str, password: str | None, *, instance: str, lease_seconds: float
    ) -> None:
        self.url = url
        self._password = password
        self.instance = instance
        self.lease_seconds = max(MIN_LEASE_SECONDS, lease_seconds)
        self._session: psycopg.Connection[Any] | None = None
        self.term: int | None = None
        """Our term while we are the writer; ``None`` on a standby."""
        self.seen = WriterView(0, "")
        self.last_error: str | None = None
        """Why the last step failed (the database unreachable, the session ended), for the log."""

    @property
    def role(self) -> Role:
        return "writer" if self.term is not None else "standby"

    def is_writer(self) -> bool:
        return self.term is not None

    # --- the lease session -----------------------------------------------------------------------

    def _open(self) -> psycopg.Connection[Any]:
        extra: dict[str, Any] = {"password": self._password} if self._password else {}
        session = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=max(1, int(self.lease_seconds)),
            application_name=f"stakepool-lease {self.instance}"[:63],
            **extra,
        )
        millis = int(self.lease_seconds * 1000)
        session.execute(f"SET idle_session_timeout = {millis}")
        session.execute(f"SET lock_timeout = {millis}")
        return session

    def step(self) -> Role:
        """Take the lock if free, keep it if held; the role after this step."""
        try:
            if self._session is None or self._session.closed:
                self._lose()
                self._session = self._open()
            session = self._session
            if self.term is None:
                row = session.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,))
                got = row.fetchone()
                if got is not None and got[0]:
                    self._take_over(session)
                else:
                    self._read_row(session)
            else:
                session.execute("SELECT 1")  # alive: the server keeps our session and lock
            self.last_error = None
        except psycopg.Error as exc:
            self.last_error = str(exc).strip()
            self._lose()
        return self.role

    def _take_over(self, session: psycopg.Connection[Any]) -> None:
        """The lock is ours: a new term, written under the write lock (after any transaction of
        the old writer that was running, before any it would start)."""
        with session.transaction():
            session.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
            row = session.execute(
                "UPDATE ledger_writer SET term = term + 1, holder = %s,"
                " since = to_char(clock_timestamp() AT TIME ZONE 'UTC',"
                ' \'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\') WHERE id = 1 RETURNING term',
                (self.instance,),
            ).fetchone()
        if row is None:
            raise DatabaseError("ledger_writer has no row: the database was not migrated")
        self.term = int(row[0])
        self.seen = WriterView(self.term, self.instance)

    def _read_row(self, session: psycopg.Connection[Any]) -> None:
        row = session.execute("SELECT term, holder FROM ledger_writer WHERE id = 1").fetchone()
        if row is not None:
            self.seen = WriterView(int(row[0]), str(row[1]))

    def _lose(self) -> None:
        self.term = None
        if self._session is not None:
            self._session.close()
            self._session = None

    def close(self) -> None:
        """Give the lock up (a clean stop): a standby takes over at its next try."""
        self._lose()

    # --- the fence ---------------------------------------------------------------------------------

    def refusal(self) -> str:
        holder = self.seen.holder or "none yet"
        return (
            f"this instance ({self.instance}) is a standby: the ledger's writer is {holder}"
            f" (term {self.seen.term}); write there"
        )

    def check(self, conn: Connection) -> None:
        """Inside a write transaction: raise ``NotWriterError`` unless our term is the row's."""
        if self.term is None:
            raise NotWriterError(self.refusal())
        row = conn.execute("SELECT term, holder FROM ledger_writer WHERE id = 1").fetchone()
        term, holder = int(row[0]), str(row[1])
        if term != self.term:
            self.seen = WriterView(term, holder)
            self.term = None  # fenced: someone took over while we were away
            raise NotWriterError(
                f"this instance ({self.instance}) lost the writer's lock: {holder} writes now"
                f" (term {term}); nothing was written"
            )


def store_session_settings(lease_seconds: float) -> tuple[str, ...]:
    """For the store's own session: a transaction idle past the lease is ended by the server, so
    a paused writer cannot hold the write lock a takeover waits for."""
    millis = int(max(MIN_LEASE_SECONDS, lease_seconds) * 1000)
    return (f"SET idle_in_transaction_session_timeout = {millis}",)
