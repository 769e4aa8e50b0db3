"""The ledger's kept rewards windows and its origin epoch (SQL; each call one transaction).

``KeptWindows`` keeps what the rewards reader produced for a window (bytes and the name of their
encoding, opaque here) so that the feed can settle it after the node has pruned the window's
states, and after a restart.
The *origin* is the first epoch a fresh ledger tried to settle: it starts there even when the
first attempts fail, instead of wherever the first success happens to be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from stakepool.ledger.store.ledger_sql import meta, set_meta
from stakepool.store.database import Database
from stakepool.store.engine import Connection

ORIGIN_KEY = "origin_epoch"


@dataclass(frozen=True)
class KeptBody:
    """A kept window's bytes and their encoding (migration 0012: ``json`` or ``json+zlib``)."""

    data: bytes
    encoding: str


def _origin(conn: Connection, proposed: int) -> int:
    kept = meta(conn, ORIGIN_KEY)
    if kept is not None:
        return kept
    set_meta(conn, ORIGIN_KEY, proposed)
    return proposed


def _keep(conn: Connection, epoch: int, roots: tuple[str, ...], body: KeptBody) -> None:
    conn.execute(
        "INSERT INTO ledger_windows (epoch, block_roots, body, encoding) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (epoch) DO UPDATE SET block_roots = excluded.block_roots,"
        " body = excluded.body, encoding = excluded.encoding, kept_at = excluded.kept_at",
        (epoch, json.dumps(list(roots)), body.data, body.encoding),
    )


def _get(conn: Connection, epoch: int) -> KeptBody | None:
    row = conn.execute(
        "SELECT body, encoding FROM ledger_windows WHERE epoch = ?", (epoch,)
    ).fetchone()
    return None if row is None else KeptBody(bytes(row[0]), str(row[1]))


def _drop(conn: Connection, first: int | None, last: int | None) -> int:
    """Delete kept windows in ``[first, last]`` (``None``: unbounded on that side)."""
    lo = -1 if first is None else first
    hi = 2**63 - 1 if last is None else last
    cur = conn.execute("DELETE FROM ledger_windows WHERE epoch BETWEEN ? AND ?", (lo, hi))
    return int(cur.rowcount)


def _epochs(conn: Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT epoch FROM ledger_windows ORDER BY epoch")]


class KeptWindows:
    """Durable windows on the daemon's one database (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def origin(self, proposed: int) -> int:
        """The ledger's origin epoch: ``proposed`` the first time asked, the kept one after."""
        return await self.db.write(lambda c: _origin(c, proposed))

    async def keep(self, epoch: int, roots: tuple[str, ...], body: KeptBody) -> None:
        await self.db.write(lambda c: _keep(c, epoch, roots, body))

    async def get(self, epoch: int) -> KeptBody | None:
        return await self.db.read(lambda c: _get(c, epoch))

    async def drop(self, first: int | None, last: int | None) -> int:
        return await self.db.write(lambda c: _drop(c, first, last))

    async def epochs(self) -> list[int]:
        return await self.db.read(_epochs)
