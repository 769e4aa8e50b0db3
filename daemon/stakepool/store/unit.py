"""The unit of work: one transaction, handed to everyone who writes in it.

The monitor's kept state, the ledger's duty outcomes and the events they raised go to the database
in ONE transaction per epoch, so a kill leaves all of them or none. Writers outside ``store/`` see
this typed object, never a connection or SQL; ``connection`` is there for ``ledger/store`` only,
whose SQL runs in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from stakepool.store import kept_state, outbox
from stakepool.store.engine import Connection
from stakepool.store.outbox_event import OutboxEvent


class UnitOfWork:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def connection(self) -> Connection:
        """For ``store/`` and ``ledger/store/`` only (the ledger's SQL in this transaction)."""
        return self._conn

    def kept(self, key: str) -> str | None:
        """A kept-state document (None: never saved)."""
        return kept_state.load(self._conn, key)

    def keep(self, key: str, text: str) -> None:
        kept_state.save(self._conn, key, text)

    def enqueue(self, events: Iterable[OutboxEvent], *, max_rows: int) -> int:
        """Events for the broker; returns the rows dropped at the bound."""
        return outbox.enqueue(self._conn, events, max_rows=max_rows)
