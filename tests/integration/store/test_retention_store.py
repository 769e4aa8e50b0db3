"""The retention deletes nothing it could not prove: a stored roll-up that differs from the detail
(a row nobody summed) refuses the period with a critical line, and the database itself refuses to
delete final detail of a period that was never checked. A reorg after a prune still finds a
returning validator's last epoch (in the roll-ups). Each on both engines."""

from __future__ import annotations

from functools import partial

import pytest
from structlog.testing import capture_logs

from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.retention import Retention, RetentionPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import ledger_write
from stakepool.store.database import STORE_ERRORS, Database
from tests.integration.store.test_disk import _input

PERIOD = 4


def _ledger(path: str, epochs: int) -> Database:
    db = Database.open(path)
    for epoch in range(epochs):
        db.write_sync(partial(ledger_write.settle, inp=_input(epoch, 50), policy=LedgerPolicy()))
    db.write_sync(lambda c: ledger_write.finalize(c, epochs - 1))
    return db


def _detail_epochs(db: Database) -> list[int]:
    return db.read_sync(
        lambda c: [int(r[0]) for r in c.execute("SELECT epoch FROM validator_epoch_detail")]
    )


async def test_a_roll_up_that_differs_from_the_detail_deletes_nothing(db_target: str) -> None:
    db = _ledger(db_target, 12)
    try:
        # A stray row for period 0 (a validator the detail does not hold): the sums stored for the
        # period would no longer be the detail's.
        db.write_sync(
            lambda c: c.execute(
                "INSERT INTO validator_daily (period, validator_index, first_epoch, last_epoch,"
                " epochs, reward_gwei, attestations_included, attestations_missed, proposals,"
                " proposals_missed) VALUES (0, 999, 0, 0, 1, 5, 0, 0, 0, 0)"
            )
        )
        retention = Retention(db, RetentionPolicy(period_epochs=PERIOD, detail_epochs=2))
        with capture_logs() as logs:
            assert await retention.run() == []
        refused = [e for e in logs if e["event"] == "validator_rollup_refused"]
        assert len(refused) == 1
        assert refused[0]["log_level"] == "critical"
        assert refused[0]["period"] == 0
        assert "999" in refused[0]["reason"]
        assert _detail_epochs(db) == list(range(12)), "nothing deleted"
        assert (
            db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM validator_rollups").fetchone())[
                0
            ]
            == 0
        )
        # The stray row removed, the same pass goes through (periods 0 and 1: final and older than
        # the two epochs kept behind epoch 11).
        db.write_sync(
            lambda c: c.execute("DELETE FROM validator_daily WHERE validator_index = 999")
        )
        assert await Retention(db, retention.policy).run() == [0, 1]
        assert _detail_epochs(db) == list(range(8, 12))
    finally:
        db.close()


def test_final_detail_of_an_unchecked_period_cannot_be_deleted(db_target: str) -> None:
    db = _ledger(db_target, 6)
    try:
        with pytest.raises(STORE_ERRORS, match="immutable"):
            db.write_sync(lambda c: c.execute("DELETE FROM validator_epoch_detail WHERE epoch = 1"))
        assert _detail_epochs(db) == list(range(6))
    finally:
        db.close()


def _with(epoch: int, indices: list[int]) -> EpochSettlementInput:
    rows = tuple(ValidatorEpochRow(v, 1000 + v + epoch, {"head": 1}, 0, True) for v in indices)
    return EpochSettlementInput(epoch, sum(r.reward_gwei for r in rows), None, rows)


async def test_a_reorg_after_a_prune_keeps_a_returning_validators_totals(db_target: str) -> None:
    """Validator 7 earns in period 0, leaves the pool, and comes back at epoch 10; the reorg of
    epoch 10 must leave its totals ending at epoch 3 (found in the roll-up, its detail pruned),
    not drop them."""
    db = Database.open(db_target)
    try:
        for epoch in range(11):
            pool = [1, 2, 7] if epoch < PERIOD or epoch == 10 else [1, 2]
            db.write_sync(
                partial(ledger_write.settle, inp=_with(epoch, pool), policy=LedgerPolicy())
            )
        db.write_sync(lambda c: ledger_write.finalize(c, 9))  # epochs 0..8 final
        retention = Retention(db, RetentionPolicy(period_epochs=PERIOD, detail_epochs=2))
        assert await retention.run() == [0, 1]
        db.write_sync(lambda c: ledger_write.revert_from(c, 10, reason="test: a reorg"))
        totals = db.read_sync(
            lambda c: c.execute(
                "SELECT first_epoch, last_epoch, reward_total_gwei FROM validator_totals"
                " WHERE validator_index = 7"
            ).fetchone()
        )
        assert totals == (0, PERIOD - 1, sum(1000 + 7 + e for e in range(PERIOD)))
    finally:
        db.close()


async def test_validator_daily_days_deletes_only_old_roll_ups(db_target: str) -> None:
    """``[ledger] validator_daily_days``: roll-ups that ended that many days (here: "days" of 4
    epochs) before the detail's window are deleted; newer ones and the pool's ledger stay."""
    db = _ledger(db_target, 12)
    try:
        policy = RetentionPolicy(
            period_epochs=PERIOD, detail_epochs=2, daily_days=1, epochs_per_day=4
        )
        pool_before = db.read_sync(
            lambda c: c.execute("SELECT COUNT(*) FROM ledger_epochs").fetchone()
        )
        assert await Retention(db, policy).run() == [0, 1]
        periods = db.read_sync(
            lambda c: sorted({int(r[0]) for r in c.execute("SELECT period FROM validator_daily")})
        )
        # Settled through 11: the window keeps 10..11, one "day" of roll-ups keeps epochs >= 5.
        assert periods == [1]
        assert (
            db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM ledger_epochs").fetchone())
            == pool_before
        )
    finally:
        db.close()
