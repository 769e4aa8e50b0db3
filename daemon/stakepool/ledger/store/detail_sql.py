"""The per-validator detail table: one packed blob per settled epoch (``store/detail_pack.py``).

Reads decode a blob's columns once and build only the rows asked for: one validator's history
decodes one blob per epoch and picks its position by bisection over the sorted indices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from stakepool.ledger.settlement import ValidatorEpochRow
from stakepool.store.detail_columns import DetailColumns, split_columns
from stakepool.store.detail_pack import DetailEpoch, DetailRow, split
from stakepool.store.engine import Connection, dialect_of


def write_epoch(
    conn: Connection,
    epoch: int,
    rows: Sequence[ValidatorEpochRow],
    columns: DetailColumns | None = None,
    blobs: tuple[bytes, bytes | None] | None = None,
) -> None:
    """``blobs``: the rows already packed (``prepared_epoch``); else ``columns``: the rows already
    read into columns (``detail_columns.read_columns``), packed from them; else packed from the
    rows (an irregular epoch, or a caller without them)."""
    if not rows:
        return
    # Any way the same bytes; the rows are read as they are (no copy of 100,000 rows).
    if blobs is None:
        blobs = split(rows) if columns is None else split_columns(columns)
    money, explanation = blobs
    ensure_partition(conn, epoch, epoch)
    conn.execute(
        "INSERT INTO validator_epoch_detail (epoch, validators, packed, explanation)"
        " VALUES (?, ?, ?, ?)",
        (epoch, len(rows), money, explanation),
    )


def ensure_partition(conn: Connection, first: int, last: int) -> None:
    """PostgreSQL: the partitions of ``validator_epoch_detail`` covering ``first..last`` (migration
    0011), created before an insert into a range that has none; one catalogue lookup when they
    exist. SQLite's table is not partitioned."""
    if dialect_of(conn).name == "postgresql":
        conn.execute("SELECT stakepool_detail_partitions(?, ?)", (first, last))


def epoch_detail(conn: Connection, epoch: int) -> DetailEpoch | None:
    row = conn.execute(
        "SELECT packed, explanation FROM validator_epoch_detail WHERE epoch = ?", (epoch,)
    ).fetchone()
    return None if row is None else _decoded(row[0], row[1])


def _decoded(packed: bytes, explanation: bytes | None) -> DetailEpoch:
    return DetailEpoch(bytes(packed), None if explanation is None else bytes(explanation))


def epochs_between(
    conn: Connection, first: int, last: int, *, descending: bool = False
) -> Iterator[tuple[int, DetailEpoch]]:
    order = "DESC" if descending else "ASC"
    rows = conn.execute(
        "SELECT epoch, packed, explanation FROM validator_epoch_detail"  # noqa: S608 - constant
        f" WHERE epoch BETWEEN ? AND ? ORDER BY epoch {order}",
        (first, last),
    )
    for r in rows:
        yield int(r[0]), _decoded(r[1], r[2])


def reward_sums(conn: Connection, first: int, last: int) -> dict[int, int]:
    """Σ reward per validator over epochs ``first..last`` (exact, any size)."""
    sums: dict[int, int] = {}
    for _epoch, packed in epochs_between(conn, first, last):
        if not sums:  # the first (in steady state the only) epoch: no per-row Python
            sums = dict(zip(packed.indices, map(int, packed.rewards), strict=True))
            continue
        for index, reward in zip(packed.indices, packed.rewards, strict=True):
            sums[index] = sums.get(index, 0) + reward
    return sums


def audit_rows(packed: DetailEpoch) -> list[list[object]]:
    """An epoch's rows as the reversal audit trail has always kept them (the old row order:
    index, reward, components JSON, residual, attestation 0/1, proposals, missed)."""
    out: list[list[object]] = []
    for r in packed.rows():
        out.append(
            [
                r.validator_index,
                r.reward_gwei,
                None
                if r.components_gwei is None
                else json.dumps(dict(r.components_gwei), sort_keys=True, separators=(",", ":")),
                r.residual_gwei,
                None if r.attestation_included is None else int(r.attestation_included),
                r.proposals,
                r.proposals_missed,
            ]
        )
    return out


def delete_epoch(conn: Connection, epoch: int) -> None:
    conn.execute("DELETE FROM validator_epoch_detail WHERE epoch = ?", (epoch,))


def last_seen_before(conn: Connection, indices: set[int], before: int) -> dict[int, int]:
    """The last epoch ``< before`` holding each of ``indices`` (absent: none), newest first;
    stops as soon as every index is found (a reorg reverses the newest epochs)."""
    found: dict[int, int] = {}
    wanted = set(indices)
    for epoch, packed in epochs_between(conn, 0, before - 1, descending=True):
        for index in [i for i in wanted if packed.position(i) is not None]:
            found[index] = epoch
            wanted.discard(index)
        if not wanted:
            break
    return found


def row_tuples(conn: Connection) -> list[tuple[object, ...]]:
    """Every epoch's rows as the old ``validator_epochs`` table held them (epoch first, then
    ``audit_rows``' order), ordered by epoch and index: for tools and tests that compared
    tables."""
    out: list[tuple[object, ...]] = []
    for epoch, packed in epochs_between(conn, 0, 2**63 - 1):
        out.extend((epoch, *row) for row in audit_rows(packed))
    return out


def store_explanation(conn: Connection, epoch: int, rows: Sequence[DetailRow]) -> None:
    """Replace the epoch's explanation (money untouched: the final-row trigger checks it)."""
    _money, explanation = split(rows)
    conn.execute(
        "UPDATE validator_epoch_detail SET explanation = ? WHERE epoch = ?", (explanation, epoch)
    )
