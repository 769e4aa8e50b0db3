"""Reads served by PostgreSQL streaming replicas (``[ledger] read_urls``), the primary when none
answers.

Only the HTTP API's and the web pages' reads come here (``SqliteLedgerStore.reading_from``); the
writer's reads — settlement, the monitor's state, the outbox, the fence, every read inside a write
transaction — stay on the primary's ``Database``, so money is never read back from a copy that may
lag behind it.

Replicas are taken in turn (round-robin). One that fails (down, cut off, a query cancelled by a
recovery conflict) is left alone for ``retry_seconds``, with one warning, and the read is made on
the next replica or, when none is left, on the primary: the request is answered, and
``fallbacks`` counts it (``stakepool_ledger_read_fallbacks_total``). Errors of the read itself (a
bad cursor: ``LedgerError``, ``QueryError``) are the caller's and are not retried.

A replica's sessions are read-only (``default_transaction_read_only``; a standby refuses writes
anyway) and named ``stakepool-reads`` in ``pg_stat_activity``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import psycopg
import structlog

from stakepool.store import pg
from stakepool.store.database import Database
from stakepool.store.engine import Connection
from stakepool.store.errors import DatabaseError

T = TypeVar("T")

log = structlog.get_logger(__name__)

RETRY_SECONDS = 5.0
"""A failed replica is tried again after this long (meanwhile its reads go elsewhere)."""
LAG_EVERY_SECONDS = 5.0
"""A replica's replay lag is measured at most this often, after one of its reads."""

REPLICA_ERRORS: tuple[type[Exception], ...] = (DatabaseError, psycopg.Error, OSError)

# Zero when everything received is replayed (an idle primary sends nothing, and the time since its
# last transaction is no lag); else how old the last replayed transaction is. NULL: not a standby.
_LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
)


class Reads(Protocol):
    """Where a store's reads go: the primary's ``Database`` itself, or ``ReadReplicas``."""

    async def read(self, fn: Callable[[Connection], T]) -> T: ...

    def snapshot_sync(self, fn: Callable[[Connection], T]) -> T: ...


class _Replica:
    def __init__(self, url: str, password: str | None) -> None:
        self.url = url
        self.shown = pg.display(url)
        self._password = password
        self.db: Database | None = None
        self.down_until = 0.0
        self.lag_seconds = math.nan
        self.lag_at = -math.inf
        self._opening = threading.Lock()

    def open(self) -> Database:
        """Blocking (a worker thread): the replica's database, opened on first use."""
        with self._opening:
            if self.db is None:
                self.db = Database.open_replica(self.url, password=self._password)
            return self.db

    def close(self) -> None:
        with self._opening:
            if self.db is not None:
                self.db.close()
                self.db = None


class ReadReplicas:
    """The read side of a PostgreSQL ledger with streaming replicas (see the module doc)."""

    def __init__(
        self,
        primary: Database,
        urls: Sequence[str],
        *,
        password: str | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        if not urls:
            raise ValueError("ReadReplicas needs at least one replica URL")
        self.primary = primary
        self._replicas = [_Replica(url, password) for url in urls]
        self._turn = itertools.count()
        self._retry_seconds = retry_seconds
        self.fallbacks = 0
        """Reads the primary served because no replica answered."""

    @property
    def path(self) -> str:
        return self.primary.path

    def lags(self) -> dict[str, float]:
        """Each replica (its URL without password) → seconds of replay lag last measured (NaN:
        not measured yet, or not a standby)."""
        return {r.shown: r.lag_seconds for r in self._replicas}

    def _candidates(self) -> list[_Replica]:
        now = time.monotonic()
        start = next(self._turn) % len(self._replicas)
        turn = self._replicas[start:] + self._replicas[:start]
        return [r for r in turn if r.down_until <= now]

    def _failed(self, replica: _Replica, exc: BaseException) -> None:
        replica.down_until = time.monotonic() + self._retry_seconds
        replica.lag_seconds = math.nan
        log.warning(
            "ledger_read_replica_failed",
            replica=replica.shown,
            error=pg.display(str(exc)).strip(),
            retry_in_seconds=self._retry_seconds,
            hint="its reads go to another replica or to the primary meanwhile",
        )

    def _fell_back(self) -> None:
        self.fallbacks += 1

    async def read(self, fn: Callable[[Connection], T]) -> T:
        for replica in self._candidates():
            try:
                db = replica.db
                if db is None:
                    db = await asyncio.to_thread(replica.open)
                result = await db.read(fn)
                if time.monotonic() - replica.lag_at >= LAG_EVERY_SECONDS:
                    replica.lag_at = time.monotonic()
                    replica.lag_seconds = await db.read(_lag)
            except REPLICA_ERRORS as exc:
                self._failed(replica, exc)
                continue
            return result
        self._fell_back()
        return await self.primary.read(fn)

    def snapshot_sync(self, fn: Callable[[Connection], T]) -> T:
        """``fn`` in one snapshot on a second session (blocking: a worker thread)."""
        for replica in self._candidates():
            try:
                return replica.open().snapshot_sync(fn)
            except REPLICA_ERRORS as exc:
                self._failed(replica, exc)
        self._fell_back()
        return self.primary.snapshot_sync(fn)

    def close(self) -> None:
        for replica in self._replicas:
            replica.close()


def _lag(conn: Connection) -> float:
    value = conn.execute(_LAG_SQL).fetchone()[0]
    return math.nan if value is None else float(value)
