"""Ledger reads (one connection each): the answers of ``stakepool.ledger.queries``.

Per-delegator figures are derived from the weight schedule and the per-epoch accumulator
snapshots, in O(the delegator's own changes) — nothing is stored per delegator per epoch.
Only the pool's dust (``Σ distributed − Σ_i floor(accrued_i)``) needs every delegator; callers
cache it per settled/final epoch (``SqliteLedgerStore`` does).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from stakepool.ledger.accumulator import NUDGE, SCALE, accrued_scaled, to_gwei
from stakepool.ledger.delegations import weight_at
from stakepool.ledger.queries import (
    MAX_PAGE_SIZE,
    DelegationChange,
    DelegatorDetail,
    DelegatorEpoch,
    DelegatorSummary,
    EpochRange,
    FinalTotal,
    LedgerStatus,
    Page,
    PoolEpoch,
    PoolTotals,
    QueryError,
    Status,
    ValidatorEpoch,
    ValidatorSummary,
)
from stakepool.ledger.store import detail_sql
from stakepool.ledger.store.ledger_sql import (
    acc_lookup,
    accrued_gwei,
    delegator_exists,
    last_epochs,
    meta,
    next_epoch,
    paid_gwei,
    schedule,
    totals_at,
)
from stakepool.ledger.store.ledger_write import FINALIZED_KEY
from stakepool.store.detail_pack import DetailRow
from stakepool.store.engine import Connection


def _status(text: object) -> Status:
    return "final" if text == "final" else "provisional"


def status(conn: Connection) -> LedgerStatus:
    _first, last, last_final = last_epochs(conn)
    _w, count = totals_at(conn, last if last is not None else next_epoch(conn))
    reversed_count = int(conn.execute("SELECT COUNT(*) FROM ledger_epoch_reversals").fetchone()[0])
    return LedgerStatus(
        last_settled_epoch=last,
        last_final_epoch=last_final,
        finalized_epoch=meta(conn, FINALIZED_KEY),
        delegators=count,
        reversed_epochs=reversed_count,
    )


def credited_gwei(conn: Connection) -> FinalTotal:
    """Σ over delegators of their floored accruals (final, total). O(delegators + changes).

    The one read that needs every delegator (for the pool's dust); a tight loop because it runs
    over up to millions of schedules: one query for every accumulator snapshot, one ordered scan
    of the schedules, and a fast path for the common one-change schedule.
    """
    _first, last, last_final = last_epochs(conn)
    if last is None:
        return FinalTotal(0, 0)
    acc = {int(e): int(a) for e, a in conn.execute("SELECT epoch, acc_scaled FROM ledger_epochs")}
    first_settled = min(acc)
    ends = [(last, 0)] if last_final is None else [(last, 0), (last_final, 1)]
    sums = [0, 0]

    def acc_after(epoch: int) -> int:
        if epoch < first_settled:
            return 0
        return acc[min(epoch, last)]

    def add(sched: list[tuple[int, int]]) -> None:
        if len(sched) == 1:
            start, weight = sched[0]
            base = acc_after(start - 1)
            for end, slot in ends:
                if start <= end and weight:
                    sums[slot] += (weight * (acc[end] - base) + NUDGE) // SCALE
            return
        for end, slot in ends:
            sums[slot] += to_gwei(accrued_scaled(sched, acc_after, sched[0][0], end))

    current: str | None = None
    sched: list[tuple[int, int]] = []
    for delegator, epoch, weight in conn.execute(
        "SELECT delegator, epoch, weight_gwei FROM delegator_weights ORDER BY delegator, epoch"
    ):
        if delegator != current:
            if sched:
                add(sched)
            current, sched = delegator, []
        sched.append((epoch, weight))
    if sched:
        add(sched)
    return FinalTotal(sums[1] if last_final is not None else 0, sums[0])


def pool_totals(conn: Connection, pool_id: str, credited: FinalTotal | None = None) -> PoolTotals:
    _first, last, last_final = last_epochs(conn)
    sums = conn.execute(
        "SELECT"
        " COALESCE(SUM(reward_gwei), 0), COALESCE(SUM(fee_gwei), 0),"
        " COALESCE(SUM(distributed_gwei), 0), COALESCE(SUM(reward_cl_gwei), 0),"
        " COALESCE(SUM(reward_el_gwei), 0), COALESCE(SUM(bond_delta_gwei), 0),"
        " COALESCE(SUM(unassigned_gwei), 0),"
        " COALESCE(SUM(reward_gwei) FILTER (WHERE status = 'final'), 0),"
        " COALESCE(SUM(fee_gwei) FILTER (WHERE status = 'final'), 0),"
        " COALESCE(SUM(distributed_gwei) FILTER (WHERE status = 'final'), 0),"
        " COALESCE(SUM(reward_cl_gwei) FILTER (WHERE status = 'final'), 0),"
        " COALESCE(SUM(reward_el_gwei) FILTER (WHERE status = 'final'), 0),"
        " COALESCE(SUM(bond_delta_gwei) FILTER (WHERE status = 'final'), 0),"
        " COALESCE(SUM(unassigned_gwei) FILTER (WHERE status = 'final'), 0)"
        " FROM ledger_epochs"
    ).fetchone()
    total = [int(v) for v in sums[:7]]
    final = [int(v) for v in sums[7:]]
    credited = credited or credited_gwei(conn)

    def pair(i: int) -> FinalTotal:
        return FinalTotal(final[i], total[i])

    def weight_of(epoch: int | None) -> tuple[int, int]:
        if epoch is None:
            return 0, 0
        row = conn.execute(
            "SELECT total_weight_gwei, delegators FROM ledger_epochs WHERE epoch = ?", (epoch,)
        ).fetchone()
        return int(row[0]), int(row[1])

    weight_final, _ = weight_of(last_final)
    weight_total, count = weight_of(last)
    return PoolTotals(
        pool_id=pool_id,
        delegators=count,
        principal_gwei=FinalTotal(weight_final, weight_total),
        rewards_gwei=pair(0),
        fees_gwei=pair(1),
        dust_gwei=FinalTotal(final[2] - credited.final, total[2] - credited.total),
        distributed_gwei=pair(2),
        last_settled_epoch=last,
        last_final_epoch=last_final,
        rewards_cl_gwei=pair(3),
        rewards_el_gwei=pair(4),
        operator_bond_delta_gwei=pair(5),
        unassigned_gwei=pair(6),
    )


def _pool_epoch(r: Sequence[Any]) -> PoolEpoch:
    v = list(r)
    return PoolEpoch(
        epoch=int(str(v[0])),
        status=_status(v[1]),
        reward_cl_gwei=int(str(v[2])),
        reward_el_gwei=None if v[3] is None else int(str(v[3])),
        reward_gwei=int(str(v[4])),
        fee_gwei=int(str(v[5])),
        distributed_gwei=int(str(v[6])),
        total_weight_gwei=int(str(v[7])),
        delegators=int(str(v[8])),
        bond_delta_gwei=int(str(v[9])),
        unassigned_gwei=int(str(v[10])),
        merged=_merged(v[11], v[12]),
    )


_POOL_EPOCH_SQL = (
    "SELECT epoch, status, reward_cl_gwei, reward_el_gwei, reward_gwei, fee_gwei,"
    " distributed_gwei, total_weight_gwei, delegators, bond_delta_gwei, unassigned_gwei,"
    " merged_from, merged_to FROM ledger_epochs WHERE epoch BETWEEN ? AND ? ORDER BY epoch"
)


def pool_epochs(conn: Connection, epochs: EpochRange) -> list[PoolEpoch]:
    bounds = epochs.resolve(last_epochs(conn)[1])
    if bounds is None:
        return []
    return [_pool_epoch(r) for r in conn.execute(_POOL_EPOCH_SQL, bounds)]


def iter_pool_epochs(conn: Connection, first: int, last: int) -> Iterator[PoolEpoch]:
    """Unbounded, for the export command (streams rows)."""
    for r in conn.execute(_POOL_EPOCH_SQL, (first, last)):
        yield _pool_epoch(r)


def validators(conn: Connection) -> list[ValidatorSummary]:
    rows = conn.execute(
        "SELECT validator_index, first_epoch, last_epoch, reward_final_gwei, reward_total_gwei"
        " FROM validator_totals ORDER BY validator_index"
    )
    return [
        ValidatorSummary(int(r[0]), int(r[1]), int(r[2]), FinalTotal(int(r[3]), int(r[4])))
        for r in rows
    ]


def _merged(first: object, last: object) -> tuple[int, int] | None:
    return None if first is None or last is None else (int(str(first)), int(str(last)))


def _validator_epoch(
    epoch: int, status: tuple[str, tuple[int, int] | None], r: DetailRow
) -> ValidatorEpoch:
    return ValidatorEpoch(
        epoch=epoch,
        validator_index=r.validator_index,
        status=_status(status[0]),
        reward_gwei=r.reward_gwei,
        components_gwei=None if r.components_gwei is None else dict(r.components_gwei),
        residual_gwei=r.residual_gwei,
        attestation_included=r.attestation_included,
        proposals=r.proposals,
        proposals_missed=r.proposals_missed,
        merged=status[1],
    )


def _statuses(
    conn: Connection, first: int, last: int
) -> dict[int, tuple[str, tuple[int, int] | None]]:
    """Each epoch's status and, for a share of a merged window, the window's span."""
    rows = conn.execute(
        "SELECT epoch, status, merged_from, merged_to FROM ledger_epochs"
        " WHERE epoch BETWEEN ? AND ?",
        (first, last),
    )
    return {int(r[0]): (str(r[1]), _merged(r[2], r[3])) for r in rows}


def validator_epochs(
    conn: Connection, validator_index: int, epochs: EpochRange
) -> list[ValidatorEpoch]:
    bounds = epochs.resolve(last_epochs(conn)[1])
    if bounds is None:
        return []
    seen = conn.execute(
        "SELECT first_epoch, last_epoch FROM validator_totals WHERE validator_index = ?",
        (validator_index,),
    ).fetchone()
    if seen is None:
        return []
    # Only the epochs that can hold the validator are decoded.
    first, last = max(bounds[0], int(seen[0])), min(bounds[1], int(seen[1]))
    statuses = _statuses(conn, first, last)
    out = []
    for epoch, packed in detail_sql.epochs_between(conn, first, last):
        i = packed.position(validator_index)
        if i is not None:
            out.append(_validator_epoch(epoch, statuses[epoch], packed.row(i)))
    return out


def iter_validator_epochs(conn: Connection, first: int, last: int) -> Iterator[ValidatorEpoch]:
    statuses = _statuses(conn, first, last)
    for epoch, packed in detail_sql.epochs_between(conn, first, last):
        for r in packed.rows():
            yield _validator_epoch(epoch, statuses[epoch], r)


def _principal(sched: list[tuple[int, int]], conn: Connection) -> int:
    return weight_at(sched, next_epoch(conn))


def delegators(
    conn: Connection, *, cursor: str | None = None, limit: int = 100
) -> Page[DelegatorSummary]:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise QueryError(f"limit must be in 1..{MAX_PAGE_SIZE}, got {limit}")
    # A cursor is the last id of the page before, and delegators are never deleted: one that
    # names no delegator was never handed out (garbage, or another ledger's) and is refused
    # rather than answered with an empty page that reads as "no more delegators".
    if cursor is not None and (
        not cursor or len(cursor) > 256 or not delegator_exists(conn, cursor)
    ):
        raise QueryError("cursor is not one this API returned")
    rows = conn.execute(
        "SELECT id FROM delegators WHERE id > ? ORDER BY id LIMIT ?", (cursor or "", limit + 1)
    ).fetchall()
    ids = [str(r[0]) for r in rows[:limit]]
    _first, last, last_final = last_epochs(conn)
    upcoming = next_epoch(conn)
    acc_after = acc_lookup(conn)
    items = []
    for delegator in ids:
        sched = schedule(conn, delegator)
        items.append(
            DelegatorSummary(
                id=delegator,
                principal_gwei=weight_at(sched, upcoming),
                accrued_gwei=FinalTotal(
                    accrued_gwei(conn, sched, last_final, acc_after),
                    accrued_gwei(conn, sched, last, acc_after),
                ),
            )
        )
    return Page(items, ids[-1] if len(rows) > limit else None)


def delegator(conn: Connection, delegator_id: str) -> DelegatorDetail | None:
    if not delegator_exists(conn, delegator_id):
        return None
    _first, last, last_final = last_epochs(conn)
    sched = schedule(conn, delegator_id)
    acc_after = acc_lookup(conn)
    final = accrued_gwei(conn, sched, last_final, acc_after)
    paid = paid_gwei(conn, delegator_id)
    first_epoch = next((e for e, w in sched if w > 0), None)
    return DelegatorDetail(
        id=delegator_id,
        principal_gwei=_principal(sched, conn),
        accrued_gwei=FinalTotal(final, accrued_gwei(conn, sched, last, acc_after)),
        paid_gwei=paid,
        claimable_gwei=final - paid,
        first_epoch=first_epoch,
    )


def delegator_epochs(
    conn: Connection, delegator_id: str, epochs: EpochRange
) -> list[DelegatorEpoch] | None:
    if not delegator_exists(conn, delegator_id):
        return None
    bounds = epochs.resolve(last_epochs(conn)[1])
    sched = schedule(conn, delegator_id)
    if bounds is None or not sched:
        return []
    first, last = bounds
    acc_after = acc_lookup(conn)
    rows = conn.execute(
        "SELECT epoch, status, acc_scaled, merged_from, merged_to FROM ledger_epochs"
        " WHERE epoch BETWEEN ? AND ? ORDER BY epoch",
        (first, last),
    ).fetchall()
    scaled = accrued_scaled(sched, acc_after, sched[0][0], first - 1)
    previous_acc = acc_after(first - 1)
    out: list[DelegatorEpoch] = []
    for r in rows:
        epoch, acc = int(r[0]), int(r[2])
        weight = weight_at(sched, epoch)
        before = to_gwei(scaled)
        scaled += weight * (acc - previous_acc)
        previous_acc = acc
        after = to_gwei(scaled)
        out.append(
            DelegatorEpoch(epoch, _status(r[1]), weight, after - before, after, _merged(r[3], r[4]))
        )
    return out


def delegation_journal(
    conn: Connection, *, delegator_id: str | None = None, limit: int = 100
) -> list[DelegationChange]:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise QueryError(f"limit must be in 1..{MAX_PAGE_SIZE}, got {limit}")
    sql = (
        "SELECT delegator, effective_epoch, weight_gwei, previous_weight_gwei, source"
        " FROM delegation_journal"
    )
    args: tuple[object, ...] = (limit,)
    if delegator_id is not None:
        sql += " WHERE delegator = ?"
        args = (delegator_id, limit)
    rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", args).fetchall()
    return [
        DelegationChange(str(r[0]), int(r[1]), int(r[2]), int(r[3]), str(r[4]))
        for r in reversed(rows)
    ]
