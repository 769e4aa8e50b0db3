"""A rewards explanation that arrives after its epoch was settled — final or not — is stored on
the epoch's rows and is never taken for a finalized reorg; a real change of input still is."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stakepool.ledger.delegations import Delegation
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store import detail_sql, ledger_write
from stakepool.ledger.store.interface import FinalRowError
from tests.integration.store.ledgerkit import delegate, dump, open_db, settle_all

EXPLAINED = {"source": 5, "target": 9, "head": 4, "inactivity": 0, "proposer": 0, "sync": 0}


def _unexplained(epoch: int) -> EpochSettlementInput:
    # As the feed builds it before the rewards endpoints answer: no digest, no components.
    rows = (ValidatorEpochRow(7, 20, None, None, True), ValidatorEpochRow(8, -3, None, None, False))
    return EpochSettlementInput(epoch, 17, None, rows)


def _explained(inp: EpochSettlementInput) -> EpochSettlementInput:
    rows = tuple(
        replace(v, components_gwei={**EXPLAINED, "source": v.reward_gwei - 13}, residual_gwei=0)
        for v in inp.validators
    )
    return replace(inp, validators=rows)


def _components(db: object, epoch: int) -> list[object]:
    return db.read_sync(  # type: ignore[attr-defined, no-any-return]
        lambda c: [
            (r.validator_index, r.components_gwei, r.residual_gwei)
            for r in detail_sql.epoch_detail(c, epoch).rows()  # type: ignore[union-attr]
        ]
    )


@pytest.mark.parametrize("final", [True, False], ids=["final", "provisional"])
def test_a_late_explanation_is_stored_not_called_a_reorg(db_target: str, final: bool) -> None:
    db = open_db(db_target)
    delegate(db, (Delegation("a", 3, 0),))
    policy = LedgerPolicy()
    inputs = [_unexplained(e) for e in range(4)]
    settle_all(db, inputs, policy)
    if final:
        db.write_sync(lambda c: ledger_write.finalize(c, 3))  # epochs 0..2 final
    money_before = dump(db)

    late = _explained(inputs[1])
    result = db.write_sync(lambda c: ledger_write.settle(c, late, policy))

    assert result.reversed_epochs == ()  # nothing reversed: no money moved
    assert _components(db, 1) == [
        (v.validator_index, v.components_gwei, 0) for v in late.validators
    ]
    assert result.replayed
    assert getattr(result, "explained", None) is True
    assert _components(db, 2) == [(7, None, None), (8, None, None)]  # others untouched
    epochs, validators, totals = dump(db)
    # Money unchanged; the row, final or not, takes the explained input's digest: it ends as the
    # row of an instance whose explanation came at once (the corruption soak compares the two).
    assert [r[:14] for r in epochs] == [r[:14] for r in money_before[0]]
    assert epochs[1][14] == late.digest()
    assert totals == money_before[2]
    strip = [(r[0], r[1], r[2], r[5], r[6], r[7]) for r in validators]
    assert strip == [(r[0], r[1], r[2], r[5], r[6], r[7]) for r in money_before[1]]
    # The same explanation again: nothing to do, still no alarm.
    again = db.write_sync(lambda c: ledger_write.settle(c, late, policy))
    assert again.replayed
    db.close()


def test_a_real_change_of_a_final_epoch_is_still_refused(db_target: str) -> None:
    db = open_db(db_target)
    delegate(db, (Delegation("a", 3, 0),))
    policy = LedgerPolicy()
    inputs = [_unexplained(e) for e in range(3)]
    settle_all(db, inputs, policy)
    db.write_sync(lambda c: ledger_write.finalize(c, 2))
    changed = _explained(inputs[0])
    changed = replace(changed, validators=(replace(changed.validators[0], reward_gwei=21),))
    with pytest.raises(FinalRowError, match="epoch 0 is final"):
        db.write_sync(lambda c: ledger_write.settle(c, changed, policy))
    with pytest.raises(Exception, match="immutable"):  # a final epoch row: its digest alone moves
        db.write_sync(
            lambda c: c.execute(
                "UPDATE ledger_epochs SET state_json = '{}', input_digest = 'x' WHERE epoch = 0"
            )
        )
    with pytest.raises(Exception, match="immutable"):  # the schema refuses money changes too
        db.write_sync(
            lambda c: c.execute(
                "UPDATE validator_epoch_detail SET explanation = NULL, packed = ? WHERE epoch = 0",
                (b"\x00",),
            )
        )
    db.close()


def test_an_unexplained_re_read_keeps_the_stored_explanation(db_target: str) -> None:
    """Read again once the node can no longer explain it (pruned states): the same money without
    the explanation is a replay, not a changed input to reverse."""
    db = open_db(db_target)
    delegate(db, (Delegation("a", 3, 0),))
    policy = LedgerPolicy()
    inputs = [_explained(_unexplained(e)) for e in range(3)]
    settle_all(db, inputs, policy)
    before = dump(db)
    result = db.write_sync(lambda c: ledger_write.settle(c, _unexplained(1), policy))
    assert result.reversed_epochs == ()
    assert result.replayed
    assert dump(db) == before
    db.close()
