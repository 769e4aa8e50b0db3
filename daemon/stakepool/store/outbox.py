"""The outbox table: events wait here until the broker has acknowledged them.

Callers enqueue inside the same ``Database.write`` transaction as the state change that caused the
events, so "state saved but event lost" and "event sent but state lost" cannot happen. The
publisher reads ``pending`` rows oldest first and ``ack``s them after the broker's PUBACK.

The table is bounded: past ``max_rows`` the oldest rows are dropped (a broker away for days must
not fill the disk) and the ``outbox_dropped`` counter, exported as a metric, says how many.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stakepool.store.engine import Connection
from stakepool.store.outbox_event import OutboxEvent, OutboxRow

DROPPED_COUNTER = "outbox_dropped"


def enqueue(conn: Connection, events: Iterable[OutboxEvent], *, max_rows: int) -> int:
    """Add events (an ``event_id`` already queued is ignored); returns rows dropped at the bound."""
    conn.executemany(
        "INSERT INTO outbox (event_id, kind, severity, payload) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (event_id) DO NOTHING",
        [(e.event_id, e.kind, e.severity, e.payload) for e in events],
    )
    excess = depth(conn) - max_rows
    if excess <= 0:
        return 0
    conn.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (excess,)
    )
    add_counter(conn, DROPPED_COUNTER, excess)
    return excess


def pending(conn: Connection, limit: int) -> list[OutboxRow]:
    rows = conn.execute(
        "SELECT id, event_id, kind, severity, payload, created_at FROM outbox ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    return [OutboxRow(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def ack(conn: Connection, ids: Sequence[int]) -> None:
    conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])


def depth(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def dropped_total(conn: Connection) -> int:
    return counter(conn, DROPPED_COUNTER)


def add_counter(conn: Connection, name: str, amount: int) -> None:
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
        (name, amount),
    )


def counter(conn: Connection, name: str) -> int:
    row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0
