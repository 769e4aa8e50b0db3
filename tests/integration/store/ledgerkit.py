"""Helpers for the ledger store tests: open a ledger file, dump its rows for comparisons."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from stakepool.ledger.delegations import Delegation, DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store import delegations_sql, detail_sql, ledger_write
from stakepool.store.database import Database
from stakepool.store.engine import Connection

EPOCH_ROW = (
    "SELECT epoch, status, reward_cl_gwei, reward_el_gwei, reward_gwei, fee_gwei, bond_delta_gwei,"
    " unassigned_gwei, distributed_gwei, total_weight_gwei, delegators, acc_scaled,"
    " dust_delta_scaled, state_json, input_digest FROM ledger_epochs ORDER BY epoch"
)
VALIDATOR_TOTALS = "SELECT * FROM validator_totals ORDER BY validator_index"
Rows = list[tuple[object, ...]]


def totals_from_rows(conn: Connection, rows: Rows) -> Rows:
    """The summary recomputed from the epoch rows: what validator_totals must always hold."""
    final = {
        int(r[0]) for r in conn.execute("SELECT epoch FROM ledger_epochs WHERE status = 'final'")
    }
    acc: dict[int, list[int]] = {}
    for r in rows:
        epoch, index, reward = int(str(r[0])), int(str(r[1])), int(str(r[2]))
        t = acc.setdefault(index, [epoch, epoch, 0, 0])
        t[0], t[1] = min(t[0], epoch), max(t[1], epoch)
        t[2] += reward
        t[3] += reward if epoch in final else 0
    return [(index, *t) for index, t in sorted(acc.items())]


def dump(db: Database) -> tuple[Rows, Rows, Rows]:
    """Every ledger row that carries money (timestamps left out)."""

    def read(conn: Connection) -> tuple[Rows, Rows, Rows]:
        totals = [tuple(r) for r in conn.execute(VALIDATOR_TOTALS)]
        rows = detail_sql.row_tuples(conn)
        assert totals == totals_from_rows(conn, rows)
        return ([tuple(r) for r in conn.execute(EPOCH_ROW)], rows, totals)

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
