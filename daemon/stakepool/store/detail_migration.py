"""The compact_detail migration's Python step: the old per-validator rows become one packed blob per epoch.

Runs inside the migration's transaction (``database.migrate``). Before the old table is dropped,
every epoch's blob is decoded again and compared with the rows it replaces (every figure), and
the sums per epoch and per validator are recomputed from the blobs and compared with SQL's sums
over the old rows; any difference raises, the transaction rolls back and the ledger stays as it
was (the daemon refuses to start on it, naming the epoch).
"""

from __future__ import annotations

import json
import sqlite3

from stakepool.store.detail_pack import DetailEpoch, DetailRow, split


class DetailMigrationError(Exception):
    """The packed detail would not equal the rows it replaces; nothing was changed."""


def _row(r: tuple[object, ...]) -> DetailRow:
    components = None
    if r[2] is not None:
        components = {str(k): int(x) for k, x in json.loads(str(r[2])).items()}
    return DetailRow(
        validator_index=int(str(r[0])),
        reward_gwei=int(str(r[1])),
        components_gwei=components,
        residual_gwei=None if r[3] is None else int(str(r[3])),
        attestation_included=None if r[4] is None else bool(r[4]),
        proposals=int(str(r[5])),
        proposals_missed=int(str(r[6])),
    )


def _sums(conn: sqlite3.Connection, group: str) -> dict[int, tuple[int, int]]:
    # Decimal text: a SUM of uint64 figures may pass 2^63 (SQLite would raise "integer overflow").
    rows = conn.execute(
        f"SELECT {group}, COUNT(*), group_concat(reward_gwei)"  # noqa: S608 - constant
        f" FROM validator_epochs GROUP BY {group}"
    )
    return {int(r[0]): (int(r[1]), sum(int(x) for x in str(r[2]).split(","))) for r in rows}


def convert(conn: sqlite3.Connection) -> None:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'validator_epochs'"
    ).fetchone()
    if exists is None:
        return
    per_epoch: dict[int, tuple[int, int]] = {}
    per_validator: dict[int, tuple[int, int]] = {}
    epochs = [int(r[0]) for r in conn.execute("SELECT DISTINCT epoch FROM validator_epochs")]
    # Straight into the new table: an epoch may already be final, and the no-insert trigger
    # guards the ledger's writes, not this one-time conversion (restored below).
    conn.execute("DROP TRIGGER validator_epoch_detail_final_no_insert")
    for epoch in sorted(epochs):
        old = [
            _row(tuple(r))
            for r in conn.execute(
                "SELECT validator_index, reward_gwei, components_json, residual_gwei,"
                " attestation_included, proposals, proposals_missed"
                " FROM validator_epochs WHERE epoch = ? ORDER BY validator_index",
                (epoch,),
            )
        ]
        money, explanation = split(old)
        packed = DetailEpoch(money, explanation)
        if list(packed.rows()) != old:
            raise DetailMigrationError(f"epoch {epoch}: the packed detail differs from its rows")
        per_epoch[epoch] = (packed.count, sum(packed.rewards))
        for index, reward in zip(packed.indices, packed.rewards, strict=True):
            count, total = per_validator.get(index, (0, 0))
            per_validator[index] = (count + 1, total + reward)
        conn.execute(
            "INSERT INTO validator_epoch_detail (epoch, validators, packed, explanation)"
            " VALUES (?, ?, ?, ?)",
            (epoch, packed.count, money, explanation),
        )
    for name, mine, theirs in (
        ("epoch", per_epoch, _sums(conn, "epoch")),
        ("validator", per_validator, _sums(conn, "validator_index")),
    ):
        if mine != theirs:
            wrong = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
            raise DetailMigrationError(
                f"the packed detail's sums per {name} differ from the old rows at {name}"
                f" {wrong[0]} ({len(wrong)} differ): nothing converted"
            )
    conn.execute("DROP TABLE validator_epochs")
    conn.execute(
        "CREATE TRIGGER validator_epoch_detail_final_no_insert"
        " BEFORE INSERT ON validator_epoch_detail"
        " WHEN (SELECT status FROM ledger_epochs WHERE epoch = NEW.epoch) = 'final'"
        " BEGIN SELECT RAISE(ABORT, 'ledger: final validator rows are immutable'); END"
    )
