"""Shared SQL helpers of the ledger tables (reads and writes use them; one connection, no I/O else)."""

from __future__ import annotations

from collections.abc import Callable

from stakepool.ledger.accumulator import accrued_scaled, to_gwei
from stakepool.store.engine import Connection
from stakepool.store.unit import UnitOfWork


def last_epochs(conn: Connection) -> tuple[int | None, int | None, int | None]:
    """``(first settled, last settled, last final)`` epoch, ``None`` where there is none.

    Three lookups by the key, not one aggregate: ``MAX(CASE …)`` read every row (16 ms at a
    year of mainnet epochs, on every settle); the last final epoch is found walking back from
    the newest over the provisional ones (a few while the chain finalizes)."""
    row = conn.execute(
        "SELECT (SELECT MIN(epoch) FROM ledger_epochs), (SELECT MAX(epoch) FROM ledger_epochs),"
        " (SELECT epoch FROM ledger_epochs WHERE status = 'final' ORDER BY epoch DESC LIMIT 1)"
    ).fetchone()
    return (
        None if row[0] is None else int(row[0]),
        None if row[1] is None else int(row[1]),
        None if row[2] is None else int(row[2]),
    )


def acc_lookup(conn: Connection) -> Callable[[int], int]:
    """``acc_after(k)``: the accumulator after epoch ``k`` (0 before the first settled epoch)."""
    cache: dict[int, int] = {}

    def acc_after(epoch: int) -> int:
        if epoch not in cache:
            row = conn.execute(
                "SELECT acc_scaled FROM ledger_epochs WHERE epoch <= ? ORDER BY epoch DESC LIMIT 1",
                (epoch,),
            ).fetchone()
            cache[epoch] = 0 if row is None else int(row[0])
        return cache[epoch]

    return acc_after


def schedule(conn: Connection, delegator: str) -> list[tuple[int, int]]:
    rows = conn.execute(
        "SELECT epoch, weight_gwei FROM delegator_weights WHERE delegator = ? ORDER BY epoch",
        (delegator,),
    ).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def delegator_exists(conn: Connection, delegator: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM delegators WHERE id = ?", (delegator,)).fetchone() is not None
    )


def accrued_gwei(
    conn: Connection,
    sched: list[tuple[int, int]],
    up_to_epoch: int | None,
    acc_after: Callable[[int], int] | None = None,
) -> int:
    """A delegator's accrual over every settled epoch up to ``up_to_epoch``, floored to Gwei."""
    if up_to_epoch is None or not sched:
        return 0
    lookup = acc_after or acc_lookup(conn)
    return to_gwei(accrued_scaled(sched, lookup, sched[0][0], up_to_epoch))


def paid_gwei(conn: Connection, delegator: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(amount_gwei), 0) FROM payouts WHERE delegator = ?", (delegator,)
    ).fetchone()
    return int(row[0])


def totals_at(conn: Connection, epoch: int) -> tuple[int, int]:
    """``(total weight, delegators with weight)`` in effect at ``epoch``: running sums of changes."""
    row = conn.execute(
        "SELECT COALESCE(SUM(weight_delta), 0), COALESCE(SUM(count_delta), 0)"
        " FROM weight_changes WHERE epoch <= ?",
        (epoch,),
    ).fetchone()
    return int(row[0]), int(row[1])


def meta(conn: Connection, key: str) -> int | None:
    row = conn.execute("SELECT value FROM ledger_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def set_meta(conn: Connection, key: str, value: int) -> None:
    conn.execute(
        "INSERT INTO ledger_meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def next_epoch(conn: Connection) -> int:
    """The first epoch not settled yet: the earliest a delegation change can take effect."""
    _first, last, _final = last_epochs(conn)
    if last is not None:
        return last + 1
    return 0  # nothing settled yet: any epoch can still be the ledger's first


def unsettled_from(unit: UnitOfWork) -> int:
    """The first epoch the ledger has not settled, read inside ``unit``'s transaction."""
    return next_epoch(unit.connection)
