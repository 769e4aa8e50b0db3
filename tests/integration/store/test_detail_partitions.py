"""PostgreSQL's per-validator detail partitioned by epoch range (migration 0011): an existing
ledger's rows move unchanged, a settle past the last partition creates the next, final rows stay
immutable on every partition, and the retention drops a wholly rolled-up partition, whose space
leaves the database at once. SQLite's table is unchanged (the same behaviour, by rows)."""

from __future__ import annotations

from functools import partial

import psycopg
import pytest

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.retention import Retention, RetentionPolicy
from stakepool.ledger.store import detail_sql, ledger_write
from stakepool.store.database import STORE_ERRORS, Database, bundled_migrations
from stakepool.store.engine import Connection
from tests.integration import pgkit
from tests.integration.store.test_disk import _input

SPAN = 1024
"""The partitions' span of epochs (``stakepool_detail_partition_span()``)."""

PARTITIONS = (
    "SELECT relid::regclass::text FROM pg_partition_tree('validator_epoch_detail')"
    " WHERE isleaf ORDER BY 1"
)
DETAIL_BYTES = (
    "SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0)"
    " FROM pg_partition_tree('validator_epoch_detail')"
)


def _settle(db: Database, epochs: list[int], validators: int = 50) -> None:
    for epoch in epochs:
        db.write_sync(
            partial(ledger_write.settle, inp=_input(epoch, validators), policy=LedgerPolicy())
        )


def _partitions(db: Database) -> list[str]:
    return db.read_sync(lambda c: [str(r[0]) for r in c.execute(PARTITIONS)])


def _sums(conn: Connection) -> tuple[dict[int, int], dict[int, int]]:
    """Σ reward per epoch and per validator, from every stored row of the detail."""
    per_epoch: dict[int, int] = {}
    per_validator: dict[int, int] = {}
    for row in detail_sql.row_tuples(conn):
        epoch, index, reward = (int(str(x)) for x in row[:3])
        per_epoch[epoch] = per_epoch.get(epoch, 0) + reward
        per_validator[index] = per_validator.get(index, 0) + reward
    return per_epoch, per_validator


def test_the_migration_moves_a_ledgers_rows_unchanged(postgres_admin: str) -> None:
    """A ledger at schema 10 (one plain detail table) across a partition boundary: after 0011
    every row, sum per epoch and sum per validator is the same, in two partitions."""
    epochs = list(range(SPAN - 4, SPAN + 4))
    with (
        pgkit.fresh_database(postgres_admin) as source,
        pgkit.fresh_database(postgres_admin) as old,
    ):
        # The rows are written by today's settle, then copied into a database left at schema 10.
        db = Database.open(source)
        try:
            _settle(db, epochs)
            ledger = db.read_sync(
                lambda c: c.execute("SELECT * FROM ledger_epochs ORDER BY epoch").fetchall()
            )
            detail = db.read_sync(
                lambda c: c.execute(
                    "SELECT epoch, validators, packed, explanation FROM validator_epoch_detail"
                ).fetchall()
            )
        finally:
            db.close()
        ten = Database.open(old, migrations=bundled_migrations("postgresql")[:10])
        try:
            assert ten.schema_version == 10
            marks = ", ".join("?" for _ in ledger[0])
            ten.write_sync(
                lambda c: c.executemany(f"INSERT INTO ledger_epochs VALUES ({marks})", ledger)
            )
            ten.write_sync(
                lambda c: c.executemany(
                    "INSERT INTO validator_epoch_detail VALUES (?, ?, ?, ?)", detail
                )
            )
            ten.write_sync(
                lambda c: c.execute(
                    "UPDATE ledger_epochs SET status = 'final' WHERE epoch <= ?", (SPAN,)
                )
            )
            before = ten.read_sync(detail_sql.row_tuples)
            sums_before = ten.read_sync(_sums)
        finally:
            ten.close()
        db = Database.open(old)
        try:
            assert db.schema_version == bundled_migrations("postgresql")[-1].version
            assert db.read_sync(detail_sql.row_tuples) == before
            assert db.read_sync(_sums) == sums_before
            assert sorted(sums_before[0]) == epochs
            # The rows' two, and one span ahead for a writer of the previous release.
            assert _partitions(db) == [
                "validator_epoch_detail_from_0",
                f"validator_epoch_detail_from_{SPAN}",
                f"validator_epoch_detail_from_{2 * SPAN}",
            ]
            # The guards came along: a final row moved is still immutable.
            with pytest.raises(STORE_ERRORS, match="immutable"):
                db.write_sync(
                    lambda c: c.execute(
                        "UPDATE validator_epoch_detail SET validators = 1 WHERE epoch = ?", (SPAN,)
                    )
                )
        finally:
            db.close()


def test_settles_past_the_last_partition_and_final_rows_stay_immutable(db_target: str) -> None:
    db = Database.open(db_target)
    try:
        epochs = list(range(SPAN - 2, SPAN + 2))  # the last two past the first partition
        _settle(db, epochs)
        db.write_sync(lambda c: ledger_write.finalize(c, SPAN + 2))  # all of them final
        assert sorted(db.read_sync(_sums)[0]) == epochs
        if db.dialect.name == "postgresql":
            assert _partitions(db) == [
                "validator_epoch_detail_from_0",
                f"validator_epoch_detail_from_{SPAN}",
            ]
        for epoch in epochs:  # on every partition, the first and the ones made on demand
            with pytest.raises(STORE_ERRORS, match="immutable"):
                db.write_sync(
                    lambda c, e=epoch: c.execute(
                        "UPDATE validator_epoch_detail SET packed = explanation WHERE epoch = ?",
                        (e,),
                    )
                )
            with pytest.raises(STORE_ERRORS, match="immutable"):
                db.write_sync(
                    lambda c, e=epoch: c.execute(
                        "DELETE FROM validator_epoch_detail WHERE epoch = ?", (e,)
                    )
                )
        # A late explanation moves no money: still allowed on a final row.
        db.write_sync(
            lambda c: c.execute(
                "UPDATE validator_epoch_detail SET explanation = NULL WHERE epoch = ?", (SPAN,)
            )
        )
        assert sorted(db.read_sync(_sums)[0]) == epochs
    finally:
        db.close()


async def test_the_prune_drops_a_rolled_up_partition_and_its_space(postgres_admin: str) -> None:
    """Epochs from the end of one partition to the start of the third: a period ending inside a
    partition that still holds newer epochs deletes its rows; the period that completes a
    partition drops it whole, and the detail's size on disk shrinks at once."""
    epochs = list(range(SPAN - 4, 2 * SPAN + 8))
    with pgkit.fresh_database(postgres_admin) as url:
        db = Database.open(url)
        try:
            _settle(db, epochs, validators=200)
            db.write_sync(lambda c: ledger_write.finalize(c, 2 * SPAN + 7))
            size_before = db.read_sync(lambda c: int(c.execute(DETAIL_BYTES).fetchone()[0]))
            policy = RetentionPolicy(period_epochs=4, detail_epochs=6)
            done = await Retention(db, policy).run()
            # Periods of 4 epochs: 255 (1020..1023) ends its partition, 256..510 do not (their
            # rows are deleted); 511 (2044..2047) ends the second; 512 (2048..2051) reaches
            # into the 6 epochs kept behind 2055.
            assert done == list(range(255, 512))
            assert _partitions(db) == [f"validator_epoch_detail_from_{2 * SPAN}"]
            remaining = db.read_sync(
                lambda c: [int(r[0]) for r in c.execute("SELECT epoch FROM validator_epoch_detail")]
            )
            assert sorted(remaining) == list(range(2 * SPAN, 2 * SPAN + 8))
            size_after = db.read_sync(lambda c: int(c.execute(DETAIL_BYTES).fetchone()[0]))
            assert size_after < size_before / 2
            # The roll-ups hold what the dropped partitions held.
            rolled = db.read_sync(
                lambda c: c.execute(
                    "SELECT COUNT(DISTINCT period), SUM(epochs) FROM validator_daily"
                    " WHERE validator_index = 0"
                ).fetchone()
            )
            assert tuple(int(x) for x in rolled) == (257, 1028)
        finally:
            db.close()


async def test_a_partition_in_use_is_pruned_by_rows_and_dropped_later(postgres_admin: str) -> None:
    """A long read of the detail holds the table: the drop gives up after its lock timeout
    instead of queueing every later read and settle behind it; the rows go by DELETE, nothing
    stalls, and a later pass drops the emptied partition."""
    with pgkit.fresh_database(postgres_admin) as url:
        db = Database.open(url)
        try:
            _settle(db, list(range(SPAN - 4, SPAN + 12)))
            db.write_sync(lambda c: ledger_write.finalize(c, SPAN + 11))
            policy = RetentionPolicy(period_epochs=4, detail_epochs=6)
            with psycopg.connect(url) as reader:  # a transaction open on the table
                reader.execute("SELECT COUNT(*) FROM validator_epoch_detail").fetchone()
                # 255 (1020..1023) completes the first partition; 256 (1024..1027) does not.
                assert await Retention(db, policy).run() == [255, 256]
                assert _partitions(db) == [
                    "validator_epoch_detail_from_0",
                    f"validator_epoch_detail_from_{SPAN}",
                ]
            remaining = db.read_sync(
                lambda c: [int(r[0]) for r in c.execute("SELECT epoch FROM validator_epoch_detail")]
            )
            assert sorted(remaining) == list(range(SPAN + 4, SPAN + 12))
            _settle(db, list(range(SPAN + 12, SPAN + 16)))
            db.write_sync(lambda c: ledger_write.finalize(c, SPAN + 15))
            assert await Retention(db, policy).run() == [257]  # 1028..1031: the empty one goes
            assert _partitions(db) == [f"validator_epoch_detail_from_{SPAN}"]
        finally:
            db.close()
