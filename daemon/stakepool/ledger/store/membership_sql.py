"""The membership journal's SQL (table ``pool_membership_journal``, append-only by triggers)."""

from __future__ import annotations

from collections.abc import Iterable

from stakepool.ledger.membership import MembershipChange
from stakepool.store.engine import Connection


def record(conn: Connection, changes: Iterable[MembershipChange]) -> int:
    rows = [
        (c.validator_index, c.pubkey, c.change, c.effective_epoch, ",".join(c.sources))
        for c in changes
    ]
    conn.executemany(
        "INSERT INTO pool_membership_journal"
        " (validator_index, pubkey, change, effective_epoch, sources) VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def journal(conn: Connection) -> list[MembershipChange]:
    """Every entry, oldest first."""
    cursor = conn.execute(
        "SELECT validator_index, pubkey, change, effective_epoch, sources"
        " FROM pool_membership_journal ORDER BY id"
    )
    return [
        MembershipChange(
            int(i),
            str(p),
            "added" if c == "added" else "retired",
            int(e),
            tuple(s for s in str(src).split(",") if s),
        )
        for i, p, c, e, src in cursor.fetchall()
    ]
