"""Each validator's running totals (``validator_totals``) moved by one settled epoch.

Why one statement: an ``executemany`` upsert binds and runs 100,000 statements per epoch
(~95 ms at 100,000 validators, the settle's largest part once its rows are read as columns).
The epoch's rewards go in as one parameter instead, a JSON object of index → reward that SQLite
walks with ``json_each``, and as two ``bigint`` arrays that PostgreSQL ``unnest``s. Values are
integers either way (each within ±2⁴⁴, the indices within 2⁶³: ``bounds.check_epoch`` ran first,
before the statement runs), so nothing passes through a float. The parameter depends on the input
alone, so ``prepared_epoch`` builds it before the transaction (``epoch_rewards``: ~30-45 ms of
Python at 100,000 validators that would otherwise hold the writer).

The bulk statement checks the running totals itself: it moves only totals within
``bounds.TOTAL_MARGIN`` (which one more epoch cannot take past ±2⁶³−1) and counts what it
moved; a total left out (reachable only after ~2¹⁹ extreme epochs) rolls the statement back
and the exact per-validator check decides. An aggregate over every total before the statement
(~10 ms at 100,000 validators) is so spared in the common case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store.bounds import TOTAL_MARGIN, check_validator_totals
from stakepool.store.detail_columns import DetailColumns
from stakepool.store.engine import Connection, EngineName, dialect_of

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
_GUARD = (
    " WHERE validator_totals.reward_total_gwei"  # BETWEEN, not ABS(): ABS(-2⁶³) overflows
    f" BETWEEN {-TOTAL_MARGIN} AND {TOTAL_MARGIN}"
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


@dataclass(frozen=True, slots=True)
class EpochRewards:
    """A regular epoch's rewards as ``add_epoch``'s statement takes them on ``engine``."""

    engine: EngineName
    params: tuple[object, ...]
    """SQLite: the JSON object; PostgreSQL: the indices' and the rewards' lists."""


def epoch_rewards(columns: DetailColumns, engine: EngineName) -> EpochRewards:
    """The parameter of ``add_epoch``'s one statement (pure: built before the transaction)."""
    indices, rewards = columns.index.tolist(), columns.reward.tolist()
    if engine == "postgresql":
        return EpochRewards(engine, (indices, rewards))
    pairs = map('"%d":%d'.__mod__, zip(indices, rewards, strict=True))
    return EpochRewards(engine, ("{" + ",".join(pairs) + "}",))


def add_epoch(
    conn: Connection,
    inp: EpochSettlementInput,
    columns: DetailColumns | None,
    rewards: EpochRewards | None = None,
) -> None:
    """Add ``inp``'s rewards to its validators' totals (a validator seen first is inserted).

    ``rewards``: ``epoch_rewards(columns, …)`` built before the transaction (else built here)."""
    epoch = inp.epoch
    if columns is None:  # an irregular epoch: its rows as they are
        conn.executemany(
            _INSERT + " VALUES (?, ?, ?, ?, 0)" + _UPSERT,
            [(v.validator_index, epoch, epoch, v.reward_gwei) for v in inp.validators],
        )
        return
    engine = dialect_of(conn).name
    if rewards is None or rewards.engine != engine:
        rewards = epoch_rewards(columns, engine)
    bulk = _POSTGRESQL_BULK if engine == "postgresql" else _SQLITE_BULK
    params = (epoch, epoch, *rewards.params)
    conn.execute("SAVEPOINT totals")
    moved = conn.execute(bulk + _GUARD, params).rowcount
    if moved != columns.count:  # a total near the bound was left as it was
        conn.execute("ROLLBACK TO SAVEPOINT totals")
        check_validator_totals(conn, inp)  # raises LedgerRangeError unless this epoch fits
        conn.execute(bulk, params)
    conn.execute("RELEASE SAVEPOINT totals")


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
