"""Each validator's running totals (``validator_totals``) moved by one settled epoch.

Why one statement: an ``executemany`` upsert binds and runs 100,000 statements per epoch
(~95 ms at 100,000 validators, the settle's largest part once its rows are read as columns).
The epoch's rewards go in as one parameter instead, a JSON object of index → reward that SQLite
walks with ``json_each`` (~55 ms, building the text included), and as two ``bigint`` arrays that
PostgreSQL ``unnest``s. Values are integers either way (each within ±2⁴⁴, the indices within
2⁶³: ``bounds.check_epoch`` ran first), so nothing passes through a float.
"""

from __future__ import annotations

from collections.abc import Mapping

from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.store.detail_columns import DetailColumns
from stakepool.store.engine import Connection, dialect_of

_INSERT = (
    "INSERT INTO validator_totals (validator_index, first_epoch, last_epoch,"
    " reward_total_gwei, reward_final_gwei)"
)
_UPSERT = (
    " ON CONFLICT (validator_index) DO UPDATE SET"
    " first_epoch = CASE WHEN excluded.first_epoch < validator_totals.first_epoch"
    " THEN excluded.first_epoch ELSE validator_totals.first_epoch END,"
    " last_epoch = CASE WHEN excluded.last_epoch > validator_totals.last_epoch"
    " THEN excluded.last_epoch ELSE validator_totals.last_epoch END,"
    " reward_total_gwei = validator_totals.reward_total_gwei + excluded.reward_total_gwei"
)
# "WHERE true": SQLite would read ON CONFLICT as a join's ON without it.
_SQLITE_BULK = (
    _INSERT  # noqa: S608 - constants
    + " SELECT CAST(key AS INTEGER), ?, ?, value, 0 FROM json_each(?) WHERE true"
    + _UPSERT
)
_POSTGRESQL_BULK = (
    _INSERT  # noqa: S608 - constants
    + " SELECT i, ?, ?, r, 0 FROM unnest(?::bigint[], ?::bigint[]) AS t (i, r)"
    + _UPSERT
)


def add_epoch(conn: Connection, inp: EpochSettlementInput, columns: DetailColumns | None) -> None:
    """Add ``inp``'s rewards to its validators' totals (a validator seen first is inserted)."""
    epoch = inp.epoch
    if columns is None:  # an irregular epoch: its rows as they are
        conn.executemany(
            _INSERT + " VALUES (?, ?, ?, ?, 0)" + _UPSERT,
            [(v.validator_index, epoch, epoch, v.reward_gwei) for v in inp.validators],
        )
        return
    indices, rewards = columns.index.tolist(), columns.reward.tolist()
    if dialect_of(conn).name == "postgresql":
        conn.execute(_POSTGRESQL_BULK, (epoch, epoch, indices, rewards))
        return
    pairs = map('"%d":%d'.__mod__, zip(indices, rewards, strict=True))
    rewards_by_index = "{" + ",".join(pairs) + "}"
    conn.execute(_SQLITE_BULK, (epoch, epoch, rewards_by_index))


def add_final(conn: Connection, moved: Mapping[int, int]) -> None:
    """Add ``moved`` (validator index → reward of the epochs just finalized) to the validators'
    final totals, by one statement as ``add_epoch`` (an index without totals is left alone)."""
    if not moved:
        return
    if dialect_of(conn).name == "postgresql":
        conn.execute(
            "UPDATE validator_totals SET reward_final_gwei = reward_final_gwei + t.r"
            " FROM unnest(?::bigint[], ?::bigint[]) AS t (i, r) WHERE validator_index = t.i",
            (list(moved), list(moved.values())),
        )
        return
    pairs = map('"%d":%d'.__mod__, moved.items())
    conn.execute(
        "UPDATE validator_totals SET reward_final_gwei = reward_final_gwei + j.value"
        " FROM json_each(?) AS j WHERE validator_index = CAST(j.key AS INTEGER)",
        ("{" + ",".join(pairs) + "}",),
    )
