"""The outbox as the MQTT publisher sees it: pending rows, their acknowledgement, the depth.

Asynchronous and engine-free, so the publisher (``publish/mqtt``) holds no SQL and catches only
``STORE_ERRORS``.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    def __init__(self, db: Database) -> None:
        self._db = db

    async def snapshot(self, limit: int) -> OutboxSnapshot:
        def read(conn: Connection) -> OutboxSnapshot:
            return OutboxSnapshot(
                outbox.pending(conn, limit), outbox.depth(conn), outbox.dropped_total(conn)
            )

        return await self._db.read(read)

    async def ack(self, ids: Sequence[int]) -> None:
        """The broker acknowledged these rows: delete them."""
        await self._db.write(lambda conn: outbox.ack(conn, ids))

    async def depth(self) -> int:
        return await self._db.read(outbox.depth)
