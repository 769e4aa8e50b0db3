"""Statements and commitments on the ledger's tables (reads, and the commit at finalization).

A statement is derived on demand from the settled epoch rows and the delegator's weight schedule
(``ledger.statements``); nothing is stored per delegator per epoch. When a period's last epoch
becomes final, ``commit_final_periods`` (run inside the finalization's transaction) computes every
statement of the period once, stores the leaves' hashes and the root, and enqueues the
``period_committed`` outbox event in that same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from stakepool.chain.clock import ChainClock
from stakepool.ledger.commitments import Leaf, inclusion_proof, period_tree
from stakepool.ledger.statement_queries import (
    MAX_PERIODS,
    CommittedHook,
    DelegatorProof,
    DelegatorStatement,
    PeriodCommitment,
)
from stakepool.ledger.statements import (
    PoolRow,
    RangeFigures,
    Statement,
    StatementError,
    month_epochs,
    period_bounds,
    range_figures,
    statement,
    takes_part,
    utc_time,
)
from stakepool.ledger.store.ledger_sql import acc_lookup, last_epochs, schedule
from stakepool.store import outbox
from stakepool.store.engine import Connection

_ROW_SQL = (
    "SELECT epoch, status, total_weight_gwei, reward_cl_gwei, reward_el_gwei, reward_gwei,"
    " fee_gwei, bond_delta_gwei, unassigned_gwei, distributed_gwei"
    " FROM ledger_epochs WHERE epoch BETWEEN ? AND ? ORDER BY epoch"
)


def set_clock(conn: Connection, clock: ChainClock) -> None:
    conn.execute(
        "INSERT INTO ledger_clock (id, genesis_time, slot_duration_ms, slots_per_epoch)"
        " VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET genesis_time = excluded.genesis_time,"
        " slot_duration_ms = excluded.slot_duration_ms, slots_per_epoch = excluded.slots_per_epoch",
        (clock.genesis_time, clock.slot_duration_ms, clock.slots_per_epoch),
    )


def get_clock(conn: Connection) -> ChainClock | None:
    row = conn.execute(
        "SELECT genesis_time, slot_duration_ms, slots_per_epoch FROM ledger_clock WHERE id = 1"
    ).fetchone()
    return None if row is None else ChainClock(int(row[0]), int(row[1]), int(row[2]))


def pool_rows(conn: Connection, first: int, last: int) -> list[PoolRow]:
    return [
        PoolRow(
            epoch=int(r[0]),
            status="final" if r[1] == "final" else "provisional",
            total_weight_gwei=int(r[2]),
            reward_cl_gwei=int(r[3]),
            reward_el_gwei=None if r[4] is None else int(r[4]),
            reward_gwei=int(r[5]),
            fee_gwei=int(r[6]),
            bond_delta_gwei=int(r[7]),
            unassigned_gwei=int(r[8]),
            distributed_gwei=int(r[9]),
        )
        for r in conn.execute(_ROW_SQL, (first, last))
    ]


def closed_range(conn: Connection, first: int, last: int) -> tuple[int, int] | None:
    """The settled part of ``[first, last]`` when its last epoch is settled (the range is closed),
    else ``None``."""
    first_settled, last_settled, _final = last_epochs(conn)
    if first_settled is None or last_settled is None or last > last_settled:
        return None
    if last < first_settled:
        return None
    return max(first, first_settled), last


def _view(
    s: Statement,
    clock: ChainClock | None,
    period_epochs: int,
    *,
    period: int | None = None,
    month: str | None = None,
) -> DelegatorStatement:
    return DelegatorStatement(
        statement=s,
        period=period,
        month=month,
        period_epochs=period_epochs,
        start_time=None if clock is None else utc_time(clock, s.first_epoch),
        end_time=None if clock is None else utc_time(clock, s.last_epoch + 1),
    )


def delegator_statements(
    conn: Connection,
    delegator: str,
    period_epochs: int,
    from_period: int | None,
    to_period: int | None,
) -> list[DelegatorStatement]:
    """The delegator's statements of the closed periods in ``[from, to]`` (defaults: the latest
    ``MAX_PERIODS`` closed periods). Periods it took no part in are left out."""
    _first, last_settled, _final = last_epochs(conn)
    if last_settled is None:
        return []
    newest = (last_settled + 1) // period_epochs - 1
    to_p = newest if to_period is None else min(to_period, newest)
    from_p = max(0, to_p - MAX_PERIODS + 1) if from_period is None else from_period
    if to_p - from_p + 1 > MAX_PERIODS:
        raise StatementError(f"from..to covers more than {MAX_PERIODS} periods")
    sched = schedule(conn, delegator)
    acc_after = acc_lookup(conn)
    clock = get_clock(conn)
    out: list[DelegatorStatement] = []
    for period in range(from_p, to_p + 1):
        bounds = closed_range(conn, *period_bounds(period, period_epochs))
        if bounds is None or not takes_part(sched, *bounds):
            continue
        figures = range_figures(pool_rows(conn, *bounds))
        s = statement(delegator, sched, figures, acc_after)
        out.append(_view(s, clock, period_epochs, period=period))
    return out


def month_statement(
    conn: Connection, delegator: str, period_epochs: int, year: int, month: int
) -> DelegatorStatement | None:
    """The roll-up of the epochs starting in that UTC month; ``None`` when the month is not
    closed yet or the delegator took no part in it. ``StatementError`` without a chain clock."""
    clock = get_clock(conn)
    if clock is None:
        raise StatementError(
            "the ledger does not know the chain's clock yet (the daemon records it once it has"
            " reached a beacon node): monthly statements need it"
        )
    epochs = month_epochs(year, month, clock)
    bounds = None if epochs is None else closed_range(conn, *epochs)
    sched = schedule(conn, delegator)
    if bounds is None or not takes_part(sched, *bounds):
        return None
    figures = range_figures(pool_rows(conn, *bounds))
    s = statement(delegator, sched, figures, acc_lookup(conn))
    return _view(s, clock, period_epochs, month=f"{year:04d}-{month:02d}")


def period_statements(
    conn: Connection, first: int, last: int
) -> tuple[list[PoolRow], RangeFigures, list[Statement]]:
    """Every delegator's statement over a closed range (one pass over every schedule)."""
    rows = pool_rows(conn, first, last)
    figures = range_figures(rows)
    acc_after = acc_lookup(conn)
    schedules: dict[str, list[tuple[int, int]]] = {}
    for delegator, epoch, weight in conn.execute(
        "SELECT delegator, epoch, weight_gwei FROM delegator_weights ORDER BY delegator, epoch"
    ):
        schedules.setdefault(str(delegator), []).append((int(epoch), int(weight)))
    statements = [
        statement(d, sched, figures, acc_after)
        for d, sched in schedules.items()
        if takes_part(sched, first, last)
    ]
    return rows, figures, statements


# --- commitments -------------------------------------------------------------------------------------


def _commitment(r: Sequence[object]) -> PeriodCommitment:
    return PeriodCommitment(
        period_epochs=int(str(r[0])),
        period=int(str(r[1])),
        first_epoch=int(str(r[2])),
        last_epoch=int(str(r[3])),
        root=str(r[4]),
        leaves=int(str(r[5])),
        committed_at=str(r[6]),
    )


_COMMITMENT_COLUMNS = "period_epochs, period, first_epoch, last_epoch, root, leaves, committed_at"
_COMMITMENT_SQL = f"SELECT {_COMMITMENT_COLUMNS} FROM period_commitments"  # noqa: S608 - constant


def commit_final_periods(
    conn: Connection,
    period_epochs: int,
    *,
    events: CommittedHook | None = None,
    outbox_max_rows: int,
) -> list[PeriodCommitment]:
    """Commit every period whose last epoch is final and that has no commitment yet."""
    first_settled, _last, last_final = last_epochs(conn)
    if first_settled is None or last_final is None:
        return []
    row = conn.execute(
        "SELECT MAX(period) FROM period_commitments WHERE period_epochs = ?", (period_epochs,)
    ).fetchone()
    start = first_settled // period_epochs if row[0] is None else int(row[0]) + 1
    done: list[PeriodCommitment] = []
    for period in range(start, (last_final + 1) // period_epochs):
        first, last = period_bounds(period, period_epochs)
        first = max(first, first_settled)
        _rows, _figures, statements = period_statements(conn, first, last)
        tree = period_tree(period, statements)
        created = conn.execute(
            "INSERT INTO period_commitments"  # noqa: S608 - constant columns
            " (period_epochs, period, first_epoch, last_epoch, root, leaves)"
            f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COMMITMENT_COLUMNS}",
            (period_epochs, period, first, last, tree.root.hex(), len(tree.leaves)),
        ).fetchone()
        conn.executemany(
            "INSERT INTO period_leaves (period_epochs, period, position, delegator, leaf_hash)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (period_epochs, period, i, leaf.delegator, h.hex())
                for i, (leaf, h) in enumerate(zip(tree.leaves, tree.hashes, strict=True))
            ],
        )
        commitment = _commitment(created)
        if events is not None:
            outbox.enqueue(conn, events(commitment), max_rows=outbox_max_rows)
        done.append(commitment)
    return done


def commitment(conn: Connection, period_epochs: int, period: int) -> PeriodCommitment | None:
    row = conn.execute(
        _COMMITMENT_SQL + " WHERE period_epochs = ? AND period = ?", (period_epochs, period)
    ).fetchone()
    return None if row is None else _commitment(row)


def commitments(
    conn: Connection, period_epochs: int, from_period: int, to_period: int
) -> list[PeriodCommitment]:
    rows = conn.execute(
        _COMMITMENT_SQL + " WHERE period_epochs = ? AND period BETWEEN ? AND ? ORDER BY period",
        (period_epochs, from_period, to_period),
    )
    return [_commitment(r) for r in rows]


class CommitmentMismatch(Exception):
    """The ledger's rows no longer give the committed leaf: they were altered after the commit."""


def proof(
    conn: Connection, delegator: str, period_epochs: int, period: int
) -> DelegatorProof | None:
    """``None``: the period is not committed or the delegator has no leaf in it."""
    found = commitment(conn, period_epochs, period)
    if found is None:
        return None
    hashes = [
        bytes.fromhex(str(r[0]))
        for r in conn.execute(
            "SELECT leaf_hash FROM period_leaves WHERE period_epochs = ? AND period = ?"
            " ORDER BY position",
            (period_epochs, period),
        )
    ]
    row = conn.execute(
        "SELECT position FROM period_leaves WHERE period_epochs = ? AND period = ?"
        " AND delegator = ?",
        (period_epochs, period, delegator),
    ).fetchone()
    if row is None:
        return None
    index = int(row[0])
    figures = range_figures(pool_rows(conn, found.first_epoch, found.last_epoch))
    leaf = Leaf.of(
        period, statement(delegator, schedule(conn, delegator), figures, acc_lookup(conn))
    )
    if leaf.hash() != hashes[index]:
        raise CommitmentMismatch(
            f"period {period}: delegator {delegator!r}'s leaf computed from the ledger's rows"
            " differs from the committed one (rows altered after the commit?)"
        )
    return DelegatorProof(
        commitment=found,
        leaf=leaf,
        leaf_hash=hashes[index].hex(),
        index=index,
        proof=tuple(h.hex() for h in inclusion_proof(hashes, index)),
    )
