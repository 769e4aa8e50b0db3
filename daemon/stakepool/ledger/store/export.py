"""``stakepool ledger export``: the ledger's rows for accountants, as CSV or JSON.

Three kinds: ``pool`` (one row per epoch), ``validators`` (one row per validator and epoch, or
per statement period beyond the detail's retention: ``resolution`` ``epoch`` | ``day``) and
``delegators`` (one row per delegator: what it earned within the range, derived from the
accumulator). Amounts are integer Gwei; in JSON they are decimal strings, as in the HTTP API.
Rows stream straight from SQLite, so any range can be exported.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Literal, TextIO

from stakepool.ledger.accumulator import accrued_scaled, to_gwei
from stakepool.ledger.delegations import weight_at
from stakepool.ledger.store import ledger_read, rollup_sql
from stakepool.ledger.store.ledger_sql import acc_lookup, last_epochs, paid_gwei, schedule
from stakepool.store.engine import Connection

ExportKind = Literal["pool", "validators", "delegators"]
ExportFormat = Literal["csv", "json"]
Cell = str | int | None

_AMOUNT_SUFFIX = "_gwei"


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: Iterator[tuple[Cell, ...]]


def pool_table(conn: Connection, first: int, last: int) -> Table:
    columns = (
        "epoch",
        "status",
        "reward_cl_gwei",
        "reward_el_gwei",
        "reward_gwei",
        "fee_gwei",
        "bond_delta_gwei",
        "unassigned_gwei",
        "distributed_gwei",
        "total_weight_gwei",
        "delegators",
        "merged_from",
        "merged_to",
    )
    rows = (
        (
            e.epoch,
            e.status,
            e.reward_cl_gwei,
            e.reward_el_gwei,
            e.reward_gwei,
            e.fee_gwei,
            e.bond_delta_gwei,
            e.unassigned_gwei,
            e.distributed_gwei,
            e.total_weight_gwei,
            e.delegators,
            None if e.merged is None else e.merged[0],
            None if e.merged is None else e.merged[1],
        )
        for e in ledger_read.iter_pool_epochs(conn, first, last)
    )
    return Table(columns, rows)


def validators_table(conn: Connection, first: int, last: int) -> Table:
    """Per validator and epoch inside the detail's retention; per validator and statement period
    (``resolution`` ``day``: exact roll-ups, ``epoch``..``last_epoch``) beyond it. The pruned
    periods are the oldest, so their rows come first and the order stays by epoch."""
    columns = (
        "epoch",
        "validator_index",
        "status",
        "reward_gwei",
        "residual_gwei",
        "attestation_included",
        "proposals",
        "proposals_missed",
        "components_gwei",
        "merged_from",
        "merged_to",
        "resolution",
        "last_epoch",
        "epochs",
        "attestations_included",
        "attestations_missed",
    )
    days = rollup_sql.day_rows(conn, None, first, last)
    bounds: dict[int, tuple[int, int]] = {}
    for d in days:  # each rolled-up period's epochs: answered by its day rows only
        a, b = bounds.get(d.period, (d.sums.first_epoch, d.sums.last_epoch))
        bounds[d.period] = (min(a, d.sums.first_epoch), max(b, d.sums.last_epoch))
    day_epochs = list(bounds.values())

    def components(values: Mapping[str, int] | None) -> str | None:
        if values is None:
            return None
        return json.dumps({k: str(x) for k, x in sorted(values.items())})

    def day_rows() -> Iterator[tuple[Cell, ...]]:
        for d in days:
            s = d.sums
            yield (
                s.first_epoch,
                s.validator_index,
                "final",
                s.reward_gwei,
                s.residual_gwei,
                None,
                s.proposals,
                s.proposals_missed,
                components(s.components_gwei),
                None,
                None,
                "day",
                s.last_epoch,
                s.epochs,
                s.attestations_included,
                s.attestations_missed,
            )

    def epoch_rows() -> Iterator[tuple[Cell, ...]]:
        for v in ledger_read.iter_validator_epochs(conn, first, last):
            if any(a <= v.epoch <= b for a, b in day_epochs):
                continue
            att = v.attestation_included
            yield (
                v.epoch,
                v.validator_index,
                v.status,
                v.reward_gwei,
                v.residual_gwei,
                None if att is None else str(att).lower(),
                v.proposals,
                v.proposals_missed,
                components(v.components_gwei),
                None if v.merged is None else v.merged[0],
                None if v.merged is None else v.merged[1],
                "epoch",
                v.epoch,
                1,
                None if att is None else int(att),
                None if att is None else int(not att),
            )

    return Table(columns, chain(day_rows(), epoch_rows()))


def delegators_table(conn: Connection, first: int, last: int) -> Table:
    columns = (
        "delegator",
        "from_epoch",
        "to_epoch",
        "status",
        "weight_at_to_gwei",
        "accrued_before_gwei",
        "credit_gwei",
        "accrued_at_to_gwei",
        "paid_gwei",
    )
    _first, settled, last_final = last_epochs(conn)
    to_epoch = last if settled is None else min(last, settled)
    status = "final" if last_final is not None and to_epoch <= last_final else "provisional"
    acc_after = acc_lookup(conn)
    ids = [str(r[0]) for r in conn.execute("SELECT id FROM delegators ORDER BY id").fetchall()]

    def rows() -> Iterator[tuple[Cell, ...]]:
        for delegator in ids:
            sched = schedule(conn, delegator)
            start = sched[0][0] if sched else 0
            before = to_gwei(accrued_scaled(sched, acc_after, start, first - 1))
            after = to_gwei(accrued_scaled(sched, acc_after, start, to_epoch))
            yield (
                delegator,
                first,
                to_epoch,
                status,
                weight_at(sched, to_epoch),
                before,
                after - before,
                after,
                paid_gwei(conn, delegator),
            )

    return Table(columns, rows())


def table(conn: Connection, kind: ExportKind, first: int, last: int) -> Table:
    if kind == "pool":
        return pool_table(conn, first, last)
    if kind == "validators":
        return validators_table(conn, first, last)
    return delegators_table(conn, first, last)


def write(out: TextIO, data: Table, fmt: ExportFormat) -> int:
    """Write the table; returns the number of rows."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(data.columns)
        for row in data.rows:
            writer.writerow(["" if cell is None else cell for cell in row])
            count += 1
        return count
    out.write("[")
    for row in data.rows:
        item = {
            name: (str(cell) if name.endswith(_AMOUNT_SUFFIX) and isinstance(cell, int) else cell)
            for name, cell in zip(data.columns, row, strict=True)
        }
        out.write(("\n" if count == 0 else ",\n") + json.dumps(item, separators=(",", ":")))
        count += 1
    out.write("\n]\n")
    return count
