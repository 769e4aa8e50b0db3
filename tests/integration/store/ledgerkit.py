"""Helpers for the ledger store tests: open a ledger file, dump its rows for comparisons."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store import delegations_sql, ledger_write
from stakepool.store.database import Database

EPOCH_ROW = (
    "SELECT epoch, status, reward_cl_gwei, reward_el_gwei, reward_gwei, fee_gwei, bond_delta_gwei,"
    " unassigned_gwei, distributed_gwei, total_weight_gwei, delegators, acc_scaled,"
    " dust_delta_scaled, state_json, input_digest FROM ledger_epochs ORDER BY epoch"
)
VALIDATOR_ROW = "SELECT * FROM validator_epochs ORDER BY epoch, validator_index"
VALIDATOR_TOTALS = "SELECT * FROM validator_totals ORDER BY validator_index"
# The summary recomputed from the epoch rows: what validator_totals must always hold.
VALIDATOR_TOTALS_FROM_ROWS = (
    "SELECT v.validator_index, MIN(v.epoch), MAX(v.epoch), SUM(v.reward_gwei),"
    " COALESCE(SUM(v.reward_gwei) FILTER (WHERE e.status = 'final'), 0)"
    " FROM validator_epochs v JOIN ledger_epochs e ON e.epoch = v.epoch"
    " GROUP BY v.validator_index ORDER BY v.validator_index"
)

Rows = list[tuple[object, ...]]


def dump(db: Database) -> tuple[Rows, Rows, Rows]:
    """Every ledger row that carries money (timestamps left out)."""

    def read(conn: sqlite3.Connection) -> tuple[Rows, Rows, Rows]:
        totals = [tuple(r) for r in conn.execute(VALIDATOR_TOTALS)]
        assert totals == [tuple(r) for r in conn.execute(VALIDATOR_TOTALS_FROM_ROWS)]
        return (
            [tuple(r) for r in conn.execute(EPOCH_ROW)],
            [tuple(r) for r in conn.execute(VALIDATOR_ROW)],
            totals,
        )

    return db.read_sync(read)


def settle_all(db: Database, inputs: list[EpochSettlementInput], policy: LedgerPolicy) -> None:
    for inp in inputs:
        db.write_sync(partial(ledger_write.settle, inp=inp, policy=policy))


def delegate(db: Database, entries: tuple[Delegation, ...], effective: int | None = None) -> None:
    db.write_sync(
        lambda c: delegations_sql.apply_delegations(
            c, DelegationSet(entries, "test"), effective_epoch=effective
        )
    )


def open_db(path: Path | str) -> Database:
    return Database.open(path)
