"""Shared pieces of the money-path tests: the scenario, the sim's own books, ledger table dumps."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from stakepool.ledger.store import detail_sql
from stakepool.sim.chain import SimChain
from stakepool.sim.scenario import (
    ScheduledDeposit,
    ScheduledExit,
    ScheduledSlashing,
    SimScenario,
)
from stakepool.store.detail_pack import pack, unpack

SPE = 8
GWEI = 10**9


Delegation = tuple[str, int, int, int | None]
"""``(delegator, amount_gwei, from_epoch, to_epoch)`` of one ``[[delegation]]`` (to: None, open)."""


def delegations_toml(*entries: Delegation) -> str:
    """A delegations file holding ``entries``, as the scenarios of the money tests write it."""
    tables = []
    for delegator, amount, first, last in entries:
        lines = ["[[delegation]]", f'delegator = "{delegator}"', f"amount_gwei = {amount}"]
        lines.append(f"from_epoch = {first}")
        if last is not None:
            lines.append(f"to_epoch = {last}")
        tables.append("\n".join(lines) + "\n")
    return "\n".join(tables)


VALIDATORS = 64
POOL = list(range(16))
SLASHED, TOPPED_UP, EXITING = 4, 5, 9
TOP_UP = 2 * GWEI
ORPHANED_SLOT = 3 * SPE + 3
MISSED_SLOT = 2 * SPE + 5
SCENARIO = SimScenario(
    slashings=(ScheduledSlashing("attester", (SLASHED,), 2 * SPE + 2, 2 * SPE + 4),),
    deposits=(ScheduledDeposit(TOPPED_UP, TOP_UP, SPE + 1),),
    exits=(ScheduledExit(EXITING, SPE + 2, SPE + 3),),
    missed_slots=frozenset({MISSED_SLOT}),
    orphaned_slots=frozenset({ORPHANED_SLOT}),
)
"""Minimal preset, 64 validators (every one swept for its excess every 16 slots), pool 0..15:
4 is attester-slashed in epoch 2, 5 gets a 2 ETH top-up requested in epoch 1 (applied once
finalized), 9 exits, slot 21 is empty and slot 27's block is orphaned (a ``chain_reorg``)."""


def sim_truth(chain: SimChain, k: int, v: int) -> int:
    """The sim's own books for window ``k``: ΔB + withdrawals in canonical blocks − deposits."""
    start = chain.state_at_slot(k * SPE - 1)
    end = chain.state_at_slot(k * SPE + SPE - 1)
    assert start is not None, f"the sim no longer holds epoch {k - 1}"
    assert end is not None, f"the sim does not hold epoch {k}"
    withdrawn = sum(
        int(w["amount"])
        for slot in range(k * SPE, (k + 1) * SPE)
        for b in chain.blocks_at_slot(slot)
        if b.canonical
        for w in b.payload["withdrawals"]
        if int(w["validator_index"]) == v
    )
    outcome = chain.epoch_outcome(k - 1)
    assert outcome is not None
    applied = sum(d.amount for d in outcome.deposits_applied if d.validator_index == v)
    return int(end.balance[v]) - int(start.balance[v]) + withdrawn - applied


def withdrawals_of(chain: SimChain, k: int, v: int) -> int:
    return sum(
        int(w["amount"])
        for slot in range(k * SPE, (k + 1) * SPE)
        for b in chain.blocks_at_slot(slot)
        if b.canonical
        for w in b.payload["withdrawals"]
        if int(w["validator_index"]) == v
    )


LEDGER_TABLES: dict[str, str] = {
    # Timestamps (settled_at, finalized_at, created_at, recorded_at, reversed_at) say when a
    # process wrote a row, not what it holds: two runs write at different moments.
    "ledger_epochs": (
        "SELECT epoch, status, reward_cl_gwei, reward_el_gwei, reward_gwei, fee_gwei,"
        " bond_delta_gwei, unassigned_gwei, distributed_gwei, total_weight_gwei, delegators,"
        " acc_scaled, dust_delta_scaled, state_json, input_digest FROM ledger_epochs ORDER BY epoch"
    ),
    # Packed per epoch since migration 4: read through detail_sql.row_tuples (same shape).
    "validator_epochs": "",
    "validator_totals": "SELECT * FROM validator_totals ORDER BY validator_index",
    "delegators": "SELECT id FROM delegators ORDER BY id",
    "delegator_weights": "SELECT * FROM delegator_weights ORDER BY delegator, epoch",
    "weight_changes": "SELECT * FROM weight_changes ORDER BY epoch",
    # The journal's ids count applications; a restart re-reads the file and applies nothing new.
    "delegation_journal": (
        "SELECT delegator, effective_epoch, weight_gwei, previous_weight_gwei, source"
        " FROM delegation_journal ORDER BY id"
    ),
    "payouts": "SELECT id, delegator, amount_gwei, reference FROM payouts ORDER BY id",
    "ledger_epoch_reversals": (
        "SELECT epoch, reason, row_json, validators_json FROM ledger_epoch_reversals ORDER BY id"
    ),
    "ledger_meta": "SELECT * FROM ledger_meta ORDER BY key",
}

Rows = list[tuple[object, ...]]


def dump_ledger(path: Path, *, up_to_epoch: int | None = None) -> dict[str, Rows]:
    """Every ledger table's rows (timestamps left out), optionally cut at ``up_to_epoch``."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        out: dict[str, Rows] = {}
        for table, query in LEDGER_TABLES.items():
            if table == "validator_epochs":
                rows = detail_sql.row_tuples(conn)
            else:
                rows = [tuple(r) for r in conn.execute(query)]
            if up_to_epoch is not None and table in ("ledger_epochs", "validator_epochs"):
                rows = [r for r in rows if int(str(r[0])) <= up_to_epoch]  # epoch first
            out[table] = rows
        return out
    finally:
        conn.close()


def detail_rows(path: Path) -> Rows:
    """The per-validator rows as the old table held them, each with its epoch's status last:
    (epoch, index, reward, components JSON, residual, attestation, proposals, missed, status)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        status = dict(conn.execute("SELECT epoch, status FROM ledger_epochs").fetchall())
        return [(*r, status[r[0]]) for r in detail_sql.row_tuples(conn)]
    finally:
        conn.close()


def alter_reward(path: Path, epoch: int, validator: int, delta: int) -> None:
    """Tamper with one stored settlement (the final-row trigger dropped first), as an attacker
    with the file would: decode the epoch's blob, change the figure, pack it again."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS validator_epoch_detail_final_no_update")
        blob = conn.execute(
            "SELECT packed FROM validator_epoch_detail WHERE epoch = ?", (epoch,)
        ).fetchone()[0]
        rows = [
            replace(r, reward_gwei=r.reward_gwei + delta) if r.validator_index == validator else r
            for r in unpack(bytes(blob))
        ]
        conn.execute(
            "UPDATE validator_epoch_detail SET packed = ? WHERE epoch = ?", (pack(rows), epoch)
        )
    finally:
        conn.close()


def settled(db: Path) -> tuple[int, int]:
    """(last settled, last final) epoch of a ledger being written by another process; -1: none."""
    if not db.exists():
        return (-1, -1)
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            last = conn.execute("SELECT MAX(epoch) FROM ledger_epochs").fetchone()[0]
            final = conn.execute(
                "SELECT MAX(epoch) FROM ledger_epochs WHERE status = 'final'"
            ).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return (-1, -1)  # not created yet (migrations run at start-up)
    return (-1 if last is None else int(last), -1 if final is None else int(final))
