"""Ledger writes, each a function of one connection run inside one ``Database.write`` transaction.

(Delegation schedules are written by ``delegations_sql.apply_delegations``.)

* ``settle``: one epoch, keyed by epoch: the same input digest again writes nothing; a changed
  input for a provisional epoch reverses it (and every later one) first; a final epoch never
  changes (``FinalRowError``), except that an explanation missing when it was settled is stored
  when it arrives (``late_explanation``: no money moves, so it is no reorg). Epochs are settled in order, without gaps.
* ``finalize``: provisional → final for ``k <= finalized_epoch − 1`` (final rows are then
  immutable, enforced by triggers in the schema too).
* ``revert_from``: reorg; the reversed rows are copied to ``ledger_epoch_reversals`` first.
* ``record_payout``: refuses to pay more than the claimable final amount.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import PayoutRecord
from stakepool.ledger.settlement import (
    EpochSettlement,
    EpochSettlementInput,
    LedgerState,
    settle_epoch,
)
from stakepool.ledger.store import detail_sql, rollup_sql, totals_sql
from stakepool.ledger.store.bounds import PoolSums, check_epoch
from stakepool.ledger.store.interface import (
    FinalizedHook,
    FinalRowError,
    LedgerError,
    PayoutError,
    ReversedHook,
    SettledHook,
    SettleResult,
)
from stakepool.ledger.store.late_explanation import store_late_explanation
from stakepool.ledger.store.ledger_sql import (
    accrued_gwei,
    delegator_exists,
    last_epochs,
    meta,
    paid_gwei,
    schedule,
    set_meta,
    totals_at,
)
from stakepool.ledger.store.prepared_epoch import PreparedEpoch, prepare
from stakepool.store import outbox
from stakepool.store.engine import Connection, dialect_of

DEFAULT_OUTBOX_MAX_ROWS = 100_000
FINALIZED_KEY = "finalized_epoch"

_EPOCH_COLUMNS = (
    "epoch, status, reward_cl_gwei, reward_el_gwei, reward_gwei, fee_gwei, bond_delta_gwei,"
    " unassigned_gwei, distributed_gwei, total_weight_gwei, delegators, acc_scaled,"
    " dust_delta_scaled, state_json, input_digest, settled_at, finalized_at"
)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise LedgerError(f"unexpected value in the ledger: {value!r}")
    return int(value)


def _opt_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _settlement_from_row(conn: Connection, r: Sequence[object]) -> EpochSettlement:
    """A stored epoch row (``_EPOCH_COLUMNS`` order) as the settlement it recorded."""
    before = _state_before(conn, _int(r[0]))
    return EpochSettlement(
        epoch=_int(r[0]),
        reward_cl_gwei=_int(r[2]),
        reward_el_gwei=_opt_int(r[3]),
        reward_gwei=_int(r[4]),
        fee_gwei=_int(r[5]),
        bond_delta_gwei=_int(r[6]),
        unassigned_gwei=_int(r[7]),
        distributed_gwei=_int(r[8]),
        total_weight_gwei=_int(r[9]),
        delegators=_int(r[10]),
        acc_increment_scaled=_int(r[11]) - before.acc_scaled,
        dust_delta_scaled=_int(r[12]),
    )


def _state_before(conn: Connection, epoch: int) -> LedgerState:
    row = conn.execute(
        "SELECT state_json FROM ledger_epochs WHERE epoch = ?", (epoch - 1,)
    ).fetchone()
    return LedgerState() if row is None else LedgerState.from_json(str(row[0]))


def settle(
    conn: Connection,
    inp: EpochSettlementInput,
    policy: LedgerPolicy,
    *,
    events: SettledHook | None = None,
    outbox_max_rows: int = DEFAULT_OUTBOX_MAX_ROWS,
    prepared: PreparedEpoch | None = None,
    pool_sums: PoolSums | None = None,
) -> SettleResult:
    """``prepared``: ``prepare(inp, engine)`` done before the transaction (else done here);
    ``pool_sums``: the pool's sums over the final epochs the caller keeps between transactions
    (``bounds.PoolSums``; else the pool's bound reads every epoch)."""
    if prepared is None or prepared.input is not inp:
        prepared = prepare(inp, dialect_of(conn).name)
    columns, digest = prepared.columns, prepared.digest
    existing = conn.execute(
        f"SELECT {_EPOCH_COLUMNS} FROM ledger_epochs WHERE epoch = ?",  # noqa: S608 - constant
        (inp.epoch,),
    ).fetchone()
    reversed_epochs: list[int] = []
    if existing is not None:
        if existing[14] == digest:
            return SettleResult(_settlement_from_row(conn, existing), replayed=True)
        if store_late_explanation(conn, inp, str(existing[14]), digest):
            # Money unchanged: a late explanation is stored, never taken for a reorg.
            return SettleResult(_settlement_from_row(conn, existing), replayed=True, explained=True)
        if existing[1] == "final":
            raise FinalRowError(
                f"epoch {inp.epoch} is final and its input changed ({existing[14]} -> {digest}):"
                " a finalized reorg; the ledger keeps the final row, halt payouts and investigate"
            )
        reversed_epochs = revert_from(
            conn, inp.epoch, reason=f"input of epoch {inp.epoch} changed to {digest}"
        )
    _first, last, _final = last_epochs(conn)
    if last is not None and inp.epoch != last + 1:
        raise LedgerError(
            f"epoch {inp.epoch} cannot be settled now: the ledger's next epoch is {last + 1}"
        )
    state = _state_before(conn, inp.epoch)
    weight, count = totals_at(conn, inp.epoch)
    settlement, after = settle_epoch(
        state, inp, total_weight_gwei=weight, delegators=count, policy=policy
    )
    # Before any row: a value past them is refused. A regular epoch's running totals are
    # checked by the statement that moves them (totals_sql.add_epoch), sparing a scan of them.
    check_epoch(conn, inp, settlement, columns, running_totals=columns is None, pool_sums=pool_sums)
    conn.execute(
        f"INSERT INTO ledger_epochs ({_EPOCH_COLUMNS}, merged_from, merged_to) VALUES"  # noqa: S608
        " (?, 'provisional', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        f" {dialect_of(conn).now}, NULL, ?, ?)",
        (
            inp.epoch,
            settlement.reward_cl_gwei,
            settlement.reward_el_gwei,
            settlement.reward_gwei,
            settlement.fee_gwei,
            settlement.bond_delta_gwei,
            settlement.unassigned_gwei,
            settlement.distributed_gwei,
            settlement.total_weight_gwei,
            settlement.delegators,
            str(after.acc_scaled),
            str(settlement.dust_delta_scaled),
            after.to_json(),
            digest,
            None if inp.merged is None else inp.merged[0],
            None if inp.merged is None else inp.merged[1],
        ),
    )
    detail_sql.write_epoch(conn, inp.epoch, inp.validators, columns, prepared.blobs)
    totals_sql.add_epoch(conn, inp, columns, prepared.rewards)
    if events is not None:
        outbox.enqueue(conn, events(settlement), max_rows=outbox_max_rows)
    return SettleResult(settlement, replayed=False, reversed_epochs=tuple(reversed_epochs))


def finalize(
    conn: Connection,
    finalized_epoch: int,
    *,
    events: FinalizedHook | None = None,
    outbox_max_rows: int = DEFAULT_OUTBOX_MAX_ROWS,
) -> list[int]:
    """Epoch ``k`` is final once ``finalized_epoch >= k + 1``; the finalized epoch never goes back."""
    seen = meta(conn, FINALIZED_KEY)
    if seen is None or finalized_epoch > seen:
        set_meta(conn, FINALIZED_KEY, finalized_epoch)
    else:
        # Never backwards; but epochs settled since (a ledger catching up) still become final.
        finalized_epoch = seen
    rows = conn.execute(
        "UPDATE ledger_epochs SET status = 'final',"  # noqa: S608 - the dialect's constant
        f" finalized_at = {dialect_of(conn).now}"
        " WHERE status = 'provisional' AND epoch <= ? RETURNING epoch",
        (finalized_epoch - 1,),
    ).fetchall()
    epochs = sorted(int(r[0]) for r in rows)
    if epochs:
        moved = detail_sql.reward_sums(conn, epochs[0], epochs[-1])
        totals_sql.add_final(conn, moved)
    if epochs and events is not None:
        outbox.enqueue(conn, events(epochs), max_rows=outbox_max_rows)
    return epochs


def revert_from(
    conn: Connection,
    epoch: int,
    *,
    reason: str,
    events: ReversedHook | None = None,
    outbox_max_rows: int = DEFAULT_OUTBOX_MAX_ROWS,
) -> list[int]:
    rows = conn.execute(
        f"SELECT {_EPOCH_COLUMNS} FROM ledger_epochs WHERE epoch >= ? ORDER BY epoch",  # noqa: S608
        (epoch,),
    ).fetchall()
    final = [int(r[0]) for r in rows if r[1] == "final"]
    if final:
        raise FinalRowError(
            f"cannot reverse from epoch {epoch}: epoch {final[0]} is final"
            " (a reorg beyond finality is a consensus failure; halt payouts and investigate)"
        )
    names = [c.strip() for c in _EPOCH_COLUMNS.split(",")]
    for row in reversed(rows):
        k = int(row[0])
        packed = detail_sql.epoch_detail(conn, k)
        validators = [] if packed is None else detail_sql.audit_rows(packed)
        conn.execute(
            "INSERT INTO ledger_epoch_reversals (epoch, reason, row_json, validators_json)"
            " VALUES (?, ?, ?, ?)",
            (
                k,
                reason,
                json.dumps(dict(zip(names, row, strict=True)), sort_keys=True),
                json.dumps(validators),
            ),
        )
        conn.executemany(
            "UPDATE validator_totals SET reward_total_gwei = reward_total_gwei - ?"
            " WHERE validator_index = ?",
            [(v[1], v[0]) for v in validators],
        )
        detail_sql.delete_epoch(conn, k)
        conn.execute("DELETE FROM ledger_epochs WHERE epoch = ?", (k,))
    epochs = [int(r[0]) for r in rows]
    if epochs:
        # Epoch bounds of the validators touched by the reversal, from what remains: a validator
        # first seen in a reversed epoch has no row left; the others' last row is found by
        # walking back from the reversal (the first epoch is unchanged).
        touched = conn.execute(
            "SELECT validator_index, first_epoch FROM validator_totals WHERE last_epoch >= ?",
            (epochs[0],),
        ).fetchall()
        older = {int(r[0]) for r in touched if int(r[1]) < epochs[0]}
        last_seen = detail_sql.last_seen_before(conn, older, epochs[0])
        if older - set(last_seen):  # last seen before the detail's retention window
            pruned = rollup_sql.last_seen_before(conn, older - set(last_seen), epochs[0])
            last_seen.update(pruned)
        conn.executemany(
            "UPDATE validator_totals SET last_epoch = ?, first_epoch = CASE WHEN ? = -1"
            " THEN -1 ELSE first_epoch END WHERE validator_index = ?",
            [
                (last_seen.get(int(r[0]), -1), last_seen.get(int(r[0]), -1), int(r[0]))
                for r in touched
            ],
        )
        conn.execute("DELETE FROM validator_totals WHERE last_epoch = -1")
    if epochs and events is not None:
        outbox.enqueue(conn, events(epochs), max_rows=outbox_max_rows)
    return epochs


# --- payouts ---------------------------------------------------------------------------------------


def record_payout(
    conn: Connection, delegator: str, amount_gwei: int, *, reference: str | None = None
) -> PayoutRecord:
    if isinstance(amount_gwei, bool) or not isinstance(amount_gwei, int) or amount_gwei <= 0:
        raise PayoutError(f"payout amount must be a positive number of Gwei, got {amount_gwei!r}")
    if not delegator_exists(conn, delegator):
        raise PayoutError(f"unknown delegator {delegator!r}")
    _first, _last, last_final = last_epochs(conn)
    accrued = accrued_gwei(conn, schedule(conn, delegator), last_final)
    claimable = accrued - paid_gwei(conn, delegator)
    if amount_gwei > claimable:
        raise PayoutError(
            f"delegator {delegator!r}: payout of {amount_gwei} Gwei exceeds claimable"
            f" {claimable} Gwei (accrued final {accrued} − paid)"
        )
    row = conn.execute(
        "INSERT INTO payouts (delegator, amount_gwei, reference) VALUES (?, ?, ?)"
        " RETURNING id, recorded_at",
        (delegator, amount_gwei, reference),
    ).fetchone()
    return PayoutRecord(
        id=int(row[0]),
        delegator=delegator,
        amount_gwei=amount_gwei,
        reference=reference,
        claimable_after_gwei=claimable - amount_gwei,
        recorded_at=str(row[1]),
    )
