"""Ledger writes, each a function of one connection run inside one ``Database.write`` transaction.

* ``settle``: one epoch, keyed by epoch: the same input digest again writes nothing; a changed
  input for a provisional epoch reverses it (and every later one) first; a final epoch never
  changes (``FinalRowError``). Epochs are settled in order, without gaps.
* ``finalize``: provisional → final for ``k <= finalized_epoch − 1`` (final rows are then
  immutable, enforced by triggers in the schema too).
* ``revert_from``: reorg; the reversed rows are copied to ``ledger_epoch_reversals`` first.
* ``apply_delegations``: replaces weight schedules from an epoch boundary on, journaled.
* ``record_payout``: refuses to pay more than the claimable final amount.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from stakepool.ledger.delegations import DelegationSet, weight_at
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.queries import DelegationApplyResult, DelegationChange, PayoutRecord
from stakepool.ledger.settlement import (
    EpochSettlement,
    EpochSettlementInput,
    LedgerState,
    settle_epoch,
)
from stakepool.ledger.store import outbox
from stakepool.ledger.store.interface import (
    FinalizedHook,
    FinalRowError,
    LedgerError,
    PayoutError,
    ReversedHook,
    SettledHook,
    SettleResult,
)
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


def _settlement_from_row(conn: sqlite3.Connection, r: Sequence[object]) -> EpochSettlement:
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


def _state_before(conn: sqlite3.Connection, epoch: int) -> LedgerState:
    row = conn.execute(
        "SELECT state_json FROM ledger_epochs WHERE epoch = ?", (epoch - 1,)
    ).fetchone()
    return LedgerState() if row is None else LedgerState.from_json(str(row[0]))


def settle(
    conn: sqlite3.Connection,
    inp: EpochSettlementInput,
    policy: LedgerPolicy,
    *,
    events: SettledHook | None = None,
    outbox_max_rows: int = DEFAULT_OUTBOX_MAX_ROWS,
) -> SettleResult:
    digest = inp.digest()
    existing = conn.execute(
        f"SELECT {_EPOCH_COLUMNS} FROM ledger_epochs WHERE epoch = ?",  # noqa: S608 - constant
        (inp.epoch,),
    ).fetchone()
    reversed_epochs: list[int] = []
    if existing is not None:
        if existing[14] == digest:
            return SettleResult(_settlement_from_row(conn, existing), replayed=True)
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
    conn.execute(
        f"INSERT INTO ledger_epochs ({_EPOCH_COLUMNS}) VALUES"  # noqa: S608 - constant
        " (?, 'provisional', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NULL)",
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
        ),
    )
    conn.executemany(
        "INSERT INTO validator_epochs (epoch, validator_index, reward_gwei, components_json,"
        " residual_gwei, attestation_included, proposals, proposals_missed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                inp.epoch,
                v.validator_index,
                v.reward_gwei,
                None
                if v.components_gwei is None
                else json.dumps(v.components_gwei, sort_keys=True, separators=(",", ":")),
                v.residual_gwei,
                None if v.attestation_included is None else int(v.attestation_included),
                v.proposals,
                v.proposals_missed,
            )
            for v in inp.validators
        ],
    )
    if events is not None:
        outbox.enqueue(conn, events(settlement), max_rows=outbox_max_rows)
    return SettleResult(settlement, replayed=False, reversed_epochs=tuple(reversed_epochs))


def finalize(
    conn: sqlite3.Connection,
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
        "UPDATE ledger_epochs SET status = 'final',"
        " finalized_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        " WHERE status = 'provisional' AND epoch <= ? RETURNING epoch",
        (finalized_epoch - 1,),
    ).fetchall()
    epochs = sorted(int(r[0]) for r in rows)
    if epochs and events is not None:
        outbox.enqueue(conn, events(epochs), max_rows=outbox_max_rows)
    return epochs


def revert_from(
    conn: sqlite3.Connection,
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
        validators = conn.execute(
            "SELECT validator_index, reward_gwei, components_json, residual_gwei,"
            " attestation_included, proposals, proposals_missed"
            " FROM validator_epochs WHERE epoch = ? ORDER BY validator_index",
            (k,),
        ).fetchall()
        conn.execute(
            "INSERT INTO ledger_epoch_reversals (epoch, reason, row_json, validators_json)"
            " VALUES (?, ?, ?, ?)",
            (
                k,
                reason,
                json.dumps(dict(zip(names, row, strict=True)), sort_keys=True),
                json.dumps([list(v) for v in validators]),
            ),
        )
        conn.execute("DELETE FROM validator_epochs WHERE epoch = ?", (k,))
        conn.execute("DELETE FROM ledger_epochs WHERE epoch = ?", (k,))
    epochs = [int(r[0]) for r in rows]
    if epochs and events is not None:
        outbox.enqueue(conn, events(epochs), max_rows=outbox_max_rows)
    return epochs


# --- delegations -----------------------------------------------------------------------------------


def _tail(points: Sequence[tuple[int, int]], boundary: int, before: int) -> list[tuple[int, int]]:
    """The schedule from ``boundary`` on, as change points relative to the weight ``before`` it."""
    out: list[tuple[int, int]] = []
    current = before
    candidates = [(boundary, weight_at(points, boundary))] + [p for p in points if p[0] > boundary]
    for epoch, weight in candidates:
        if weight != current:
            out.append((epoch, weight))
            current = weight
    return out


def _contribute(
    deltas: dict[int, list[int]], tail: Sequence[tuple[int, int]], before: int, sign: int
) -> None:
    """Add (sign=+1) or remove (sign=-1) a schedule tail's changes to the per-epoch totals."""
    current = before
    for epoch, weight in tail:
        delta = deltas.setdefault(epoch, [0, 0])
        delta[0] += sign * (weight - current)
        delta[1] += sign * (int(weight > 0) - int(current > 0))
        current = weight


def _flush_changes(conn: sqlite3.Connection, deltas: dict[int, list[int]]) -> None:
    conn.executemany(
        "INSERT INTO weight_changes (epoch, weight_delta, count_delta) VALUES (?, ?, ?)"
        " ON CONFLICT (epoch) DO UPDATE SET weight_delta = weight_delta + excluded.weight_delta,"
        " count_delta = count_delta + excluded.count_delta",
        [(e, w, n) for e, (w, n) in sorted(deltas.items()) if w or n],
    )
    conn.execute("DELETE FROM weight_changes WHERE weight_delta = 0 AND count_delta = 0")


def _schedules(conn: sqlite3.Connection) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for delegator, epoch, weight in conn.execute(
        "SELECT delegator, epoch, weight_gwei FROM delegator_weights ORDER BY delegator, epoch"
    ):
        out.setdefault(str(delegator), []).append((int(epoch), int(weight)))
    return out


def next_epoch(conn: sqlite3.Connection) -> int:
    """The first epoch not settled yet: the earliest a delegation change can take effect."""
    _first, last, _final = last_epochs(conn)
    if last is not None:
        return last + 1
    return 0  # nothing settled yet: any epoch can still be the ledger's first


def apply_delegations(
    conn: sqlite3.Connection,
    delegations: DelegationSet,
    *,
    effective_epoch: int | None = None,
    replace_all: bool = True,
) -> DelegationApplyResult:
    earliest = next_epoch(conn)
    boundary = earliest if effective_epoch is None else effective_epoch
    if boundary < earliest:
        raise LedgerError(
            f"{delegations.source}: a change cannot take effect at epoch {boundary}:"
            f" epochs before {earliest} are settled already"
        )
    desired = delegations.schedules()
    # One pass over the stored schedules (a file may list a million delegators): read them all
    # when most are concerned, one by one for a small API change.
    current_all = _schedules(conn) if replace_all or len(desired) > 1000 else None
    targets = set(desired) | (set(current_all or ()) if replace_all else set())
    conn.executemany(
        "INSERT OR IGNORE INTO delegators (id) VALUES (?)", [(d,) for d in sorted(desired)]
    )
    deltas: dict[int, list[int]] = {}
    removed: list[tuple[str, int]] = []
    added: list[tuple[str, int, int]] = []
    changes: list[DelegationChange] = []
    for delegator in sorted(targets):
        if current_all is not None:
            current = current_all.get(delegator, [])
        else:
            current = schedule(conn, delegator)
        before = weight_at(current, boundary - 1)
        old_tail = _tail(current, boundary, before)
        new_tail = _tail(desired.get(delegator, []), boundary, before)
        if old_tail == new_tail:
            continue
        _contribute(deltas, old_tail, before, -1)
        _contribute(deltas, new_tail, before, +1)
        removed.append((delegator, boundary))
        added.extend((delegator, e, w) for e, w in new_tail)
        updated = [p for p in current if p[0] < boundary] + new_tail
        for epoch in sorted({e for e, _ in old_tail} | {e for e, _ in new_tail}):
            old_weight, new_weight = weight_at(current, epoch), weight_at(updated, epoch)
            if old_weight != new_weight:
                changes.append(
                    DelegationChange(delegator, epoch, new_weight, old_weight, delegations.source)
                )
    conn.executemany("DELETE FROM delegator_weights WHERE delegator = ? AND epoch >= ?", removed)
    conn.executemany(
        "INSERT INTO delegator_weights (delegator, epoch, weight_gwei) VALUES (?, ?, ?)", added
    )
    _flush_changes(conn, deltas)
    conn.executemany(
        "INSERT INTO delegation_journal"
        " (delegator, effective_epoch, weight_gwei, previous_weight_gwei, source)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (c.delegator, c.effective_epoch, c.weight_gwei, c.previous_weight_gwei, c.source)
            for c in changes
        ],
    )
    _weight, count = totals_at(conn, boundary)
    return DelegationApplyResult(effective_epoch=boundary, changes=changes, delegators=count)


# --- payouts ---------------------------------------------------------------------------------------


def record_payout(
    conn: sqlite3.Connection, delegator: str, amount_gwei: int, *, reference: str | None = None
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
