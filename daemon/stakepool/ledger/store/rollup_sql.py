"""The roll-ups' SQL: per-validator period sums (``validator_daily``), the checked periods
(``validator_rollups``) and the deletes of the detail they replace, each its own small call.

Every function here runs in one short transaction or read of its own (``ledger/retention.py``
drives them and decodes the detail off the database's thread): a roll-up never holds the write
lock for long, so settlement and the API are not kept waiting.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from stakepool.ledger.rollup import DayRow, DaySum
from stakepool.ledger.store.interface import LedgerError
from stakepool.store.engine import Connection, dialect_of

_COLUMNS = (
    "validator_index, first_epoch, last_epoch, epochs, reward_gwei, attestations_included,"
    " attestations_missed, proposals, proposals_missed, residual_gwei, components_json"
)


_REPLACE = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _COLUMNS.split(",")[1:])
"""A first try cut short is written again whole: every column but the key from the new row."""


@dataclass(frozen=True, slots=True)
class CheckedPeriod:
    period: int
    first_epoch: int
    last_epoch: int
    epochs: int
    validators: int
    reward_gwei: int


def oldest_detail_epoch(conn: Connection) -> int | None:
    row = conn.execute("SELECT MIN(epoch) FROM validator_epoch_detail").fetchone()
    return None if row[0] is None else int(row[0])


def detail_epochs(conn: Connection, first: int, last: int) -> list[int]:
    rows = conn.execute(
        "SELECT epoch FROM validator_epoch_detail WHERE epoch BETWEEN ? AND ? ORDER BY epoch",
        (first, last),
    )
    return [int(r[0]) for r in rows]


def detail_blobs(conn: Connection, epochs: Sequence[int]) -> list[tuple[int, bytes, bytes | None]]:
    """The raw blobs of ``epochs`` (decoded by the caller, off this thread)."""
    out = []
    for epoch in epochs:
        row = conn.execute(
            "SELECT packed, explanation FROM validator_epoch_detail WHERE epoch = ?", (epoch,)
        ).fetchone()
        if row is not None:
            out.append((epoch, bytes(row[0]), None if row[1] is None else bytes(row[1])))
    return out


def non_final_between(conn: Connection, first: int, last: int) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM ledger_epochs WHERE epoch BETWEEN ? AND ? AND status != 'final'",
        (first, last),
    ).fetchone()
    return int(row[0])


def checked(conn: Connection, period: int) -> CheckedPeriod | None:
    row = conn.execute(
        "SELECT period, first_epoch, last_epoch, epochs, validators, reward_gwei"
        " FROM validator_rollups WHERE period = ?",
        (period,),
    ).fetchone()
    if row is None:
        return None
    return CheckedPeriod(*(int(x) for x in row))


def write_sums(conn: Connection, period: int, sums: Sequence[DaySum]) -> None:
    """One chunk of a period's sums (written again whole if a first try was cut short)."""
    if checked(conn, period) is not None:
        raise LedgerError(f"period {period}'s roll-up is checked: immutable")
    conn.executemany(
        f"INSERT INTO validator_daily (period, {_COLUMNS})"  # noqa: S608 - constant
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT (period, validator_index) DO UPDATE SET {_REPLACE}",
        [
            (
                period,
                d.validator_index,
                d.first_epoch,
                d.last_epoch,
                d.epochs,
                d.reward_gwei,
                d.attestations_included,
                d.attestations_missed,
                d.proposals,
                d.proposals_missed,
                d.residual_gwei,
                None
                if d.components_gwei is None
                else json.dumps(d.components_gwei, sort_keys=True, separators=(",", ":")),
            )
            for d in sums
        ],
    )


def _day(row: Sequence[object]) -> DaySum:
    components = row[10]
    return DaySum(
        validator_index=int(str(row[0])),
        first_epoch=int(str(row[1])),
        last_epoch=int(str(row[2])),
        epochs=int(str(row[3])),
        reward_gwei=int(str(row[4])),
        attestations_included=int(str(row[5])),
        attestations_missed=int(str(row[6])),
        proposals=int(str(row[7])),
        proposals_missed=int(str(row[8])),
        residual_gwei=None if row[9] is None else int(str(row[9])),
        components_gwei=None
        if components is None
        else {str(k): int(v) for k, v in json.loads(str(components)).items()},
    )


def stored_sums(conn: Connection, period: int, after_index: int, limit: int) -> dict[int, DaySum]:
    """A chunk of a period's stored sums: validators after ``after_index``, in index order."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM validator_daily"  # noqa: S608 - constant
        " WHERE period = ? AND validator_index > ? ORDER BY validator_index LIMIT ?",
        (period, after_index, limit),
    )
    return {int(r[0]): _day(r) for r in rows}


def stored_totals(conn: Connection, period: int) -> tuple[int, int]:
    """(rows, Σ reward) of a period's stored sums, by SQL: the last check before it is marked."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(reward_gwei), 0) FROM validator_daily WHERE period = ?",
        (period,),
    ).fetchone()
    return int(row[0]), int(row[1])


def mark_checked(conn: Connection, p: CheckedPeriod) -> None:
    """In the transaction that found the stored sums equal to the detail: from now on the
    period's final detail may be deleted (the delete trigger asks for this row)."""
    conn.execute(
        "INSERT INTO validator_rollups"
        " (period, first_epoch, last_epoch, epochs, validators, reward_gwei)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (p.period, p.first_epoch, p.last_epoch, p.epochs, p.validators, str(p.reward_gwei)),
    )


def delete_detail(conn: Connection, epochs: Sequence[int]) -> int:
    """Delete rolled-up detail (the trigger refuses an epoch whose period is not checked)."""
    conn.executemany(
        "DELETE FROM validator_epoch_detail WHERE epoch = ?", [(epoch,) for epoch in epochs]
    )
    return len(epochs)


def drop_partitions(conn: Connection, through: int) -> list[int]:
    """PostgreSQL: the detail partitions (migration 0011) ending at or before ``through`` whose
    every row is final and inside a checked roll-up, detached and dropped (their files return to
    the filesystem at once); the first epoch of each. The database checks the rows itself, as the
    delete trigger would. SQLite has no partitions: nothing (its rows are deleted)."""
    if dialect_of(conn).name != "postgresql":
        return []
    rows = conn.execute("SELECT stakepool_detail_drop_partitions(?)", (through,)).fetchall()
    return [int(r[0]) for r in rows]


def prune_sums(conn: Connection, before_epoch: int, limit: int) -> int:
    """Up to ``limit`` roll-up rows of periods that ended before ``before_epoch``
    (``[ledger] validator_daily_days``); the number deleted."""
    cur = conn.execute(
        "DELETE FROM validator_daily WHERE (period, validator_index) IN ("
        " SELECT period, validator_index FROM validator_daily"
        " WHERE period IN (SELECT period FROM validator_rollups WHERE last_epoch < ?) LIMIT ?)",
        (before_epoch, limit),
    )
    return int(cur.rowcount)


def day_rows(conn: Connection, validator_index: int | None, first: int, last: int) -> list[DayRow]:
    """Roll-ups overlapping epochs ``first..last`` whose detail is (being) deleted (one
    validator, or all: ``None``), oldest first. Such a period answers at day resolution only; one
    whose detail is all there answers at epoch resolution."""
    where = "" if validator_index is None else " AND d.validator_index = ?"
    args: tuple[int, ...] = (
        (last, first) if validator_index is None else (last, first, validator_index)
    )
    rows = conn.execute(
        f"SELECT d.period, {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))}"  # noqa: S608
        " FROM validator_daily d JOIN validator_rollups r ON r.period = d.period"
        " WHERE r.first_epoch <= ? AND r.last_epoch >= ?" + where + " AND ("
        "  SELECT COUNT(*) FROM validator_epoch_detail e"
        "  WHERE e.epoch BETWEEN r.first_epoch AND r.last_epoch) < r.epochs"
        " ORDER BY d.period, d.validator_index",
        args,
    )
    return [DayRow(int(r[0]), _day(r[1:])) for r in rows]


def check_and_mark(conn: Connection, *, mark: CheckedPeriod, epochs: Sequence[int]) -> str | None:
    """The last check, in the transaction that marks the period (None: marked; else why not)."""
    if stored_totals(conn, mark.period) != (mark.validators, mark.reward_gwei):
        return "the stored roll-up's count or total differs from the detail's"
    if detail_epochs(conn, mark.first_epoch, mark.last_epoch) != list(epochs):
        return "the period's detail changed while it was rolled up"
    mark_checked(conn, mark)
    return None


def last_seen_before(conn: Connection, indices: set[int], before: int) -> dict[int, int]:
    """The last epoch ``< before`` of each of ``indices`` in the roll-ups (a reorg's search for a
    validator's last row falls back here once the detail it looks in was pruned)."""
    found: dict[int, int] = {}
    for index in indices:
        row = conn.execute(
            "SELECT MAX(last_epoch) FROM validator_daily WHERE validator_index = ? AND last_epoch < ?",
            (index, before),
        ).fetchone()
        if row[0] is not None:
            found[index] = int(row[0])
    return found
