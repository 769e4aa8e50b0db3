"""The outbox as the MQTT publisher sees it: pending rows, their acknowledgement, the depth.

Asynchronous and engine-free, so the publisher (``publish/mqtt``) holds no SQL and catches only
``STORE_ERRORS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stakepool.store import outbox
from stakepool.store.database import Database
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
        self._active = active
        """``store/writer.py``: only the ledger's writer drains the outbox (a standby's snapshot
        holds no rows, so its publisher sends nothing twice)."""

    async def snapshot(self, limit: int) -> OutboxSnapshot:
        drain = self._active is None or self._active()

        def read(conn: Connection) -> OutboxSnapshot:
            rows = outbox.pending(conn, limit) if drain else []
            return OutboxSnapshot(rows, outbox.depth(conn), outbox.dropped_total(conn))

        return await self._db.read(read)

    async def ack(self, ids: Sequence[int]) -> None:
        """The broker acknowledged these rows: delete them."""
        await self._db.write(lambda conn: outbox.ack(conn, ids))

    async def depth(self) -> int:
        return await self._db.read(outbox.depth)
