"""The outbox as the MQTT publisher sees it: pending rows, their acknowledgement, the depth.

Asynchronous and engine-free, so the publisher (``publish/mqtt``) holds no SQL and catches only
``STORE_ERRORS``. A delete the database refuses for lack of space (a full disk) does not make the
publisher send those events again: their ids are kept here, left out of every snapshot, and
deleted as soon as the database can write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stakepool.store import outbox
from stakepool.store.database import Database, OutOfSpace
from stakepool.store.engine import Connection
from stakepool.store.outbox_event import OutboxRow


@dataclass(frozen=True, slots=True)
class OutboxSnapshot:
    rows: list[OutboxRow]
    """The oldest pending rows, at most the limit asked for."""
    depth: int
    dropped: int
    """Rows ever dropped at the bound (kept across restarts)."""


class OutboxQueue:
    def __init__(self, db: Database, *, active: Callable[[], bool] | None = None) -> None:
        self._db = db
        self._acked: set[int] = set()
        """Acknowledged by the broker, not deleted yet (the disk was full)."""
        self._active = active
        """``store/writer.py``: only the ledger's writer drains the outbox (a standby's snapshot
        holds no rows, so its publisher sends nothing twice)."""

    async def snapshot(self, limit: int) -> OutboxSnapshot:
        drain = self._active is None or self._active()
        if self._acked and drain:  # a standby deletes nothing: its writes are fenced
            await self.ack(sorted(self._acked))
        acked = frozenset(self._acked)

        def read(conn: Connection) -> OutboxSnapshot:
            rows = outbox.pending(conn, limit + len(acked)) if drain else []
            rows = [r for r in rows if r.id not in acked]
            depth = max(0, outbox.depth(conn) - len(acked))
            return OutboxSnapshot(rows[:limit], depth, outbox.dropped_total(conn))

        return await self._db.read(read)

    async def ack(self, ids: Sequence[int]) -> None:
        """The broker acknowledged these rows: delete them (later, if the disk is full)."""
        try:
            await self._db.write(lambda conn: outbox.ack(conn, ids))
        except OutOfSpace:
            self._acked.update(ids)
        else:
            self._acked.difference_update(ids)

    async def depth(self) -> int:
        return await self._db.read(outbox.depth)
