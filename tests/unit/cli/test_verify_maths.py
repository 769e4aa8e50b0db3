"""``stakepool verify``'s pure parts: the settlement identity, the first difference, the policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.cli.verify import UsageError, parse_policy
from stakepool.cli.verify_maths import (
    ValidatorMoves,
    first_validator_difference,
    recompute,
)
from stakepool.ledger.policy import LedgerPolicy

gwei = st.integers(0, 2**40)


@given(gwei, gwei, gwei, gwei, gwei)
def test_a_deposit_is_neutral_queued_or_applied(
    start: int, reward: int, withdrawn: int, amount: int, queued: int
) -> None:
    # Included in the window and still queued at its end: the balance did not move.
    queued_now = ValidatorMoves(
        start, start + reward - withdrawn, withdrawn, amount, queued, queued + amount
    )
    # Applied inside the window: the balance grew by it, the queue did not.
    applied = ValidatorMoves(
        start, start + reward - withdrawn + amount, withdrawn, amount, queued, queued
    )
    assert queued_now.reward == applied.reward == reward


def test_the_first_difference_is_the_earliest_epoch_then_the_lowest_validator() -> None:
    chain = {5: {1: 10, 2: 20}, 6: {1: 10, 2: 20}}
    published = {5: {1: 10, 2: 20}, 6: {1: 11, 2: 21}}
    diff = first_validator_difference(chain, published)
    assert diff is not None
    assert (diff.epoch, diff.validator, diff.chain, diff.published) == (6, 1, 10, 11)
    assert "epoch 6, validator 1" in diff.describe()
    assert first_validator_difference(chain, chain) is None
    missing = first_validator_difference(chain, {5: {1: 10}, 6: chain[6]})
    assert missing is not None
    assert (missing.epoch, missing.validator, missing.published) == (5, 2, None)


def test_recompute_gives_one_leaf_per_delegator_taking_part() -> None:
    schedules = {"a": [(1, 32)], "b": [(1, 32), (4, 0)], "c": [(7, 8)]}
    rewards = {k: {0: 100 + k, 1: -3 if k == 3 else 50} for k in range(1, 6)}
    mine = recompute(
        first_epoch=1,
        period=1,
        period_epochs=3,
        rewards=rewards,
        el_wei={},
        schedules=schedules,
        policy=LedgerPolicy(fee_bps=1000),
    )
    assert [r.epoch for r in mine.rows] == [1, 2, 3, 4, 5]
    assert [s.delegator for s in mine.statements] == ["a", "b"]  # b leaves at 4, c joins later
    assert mine.statements[1].principal_out_gwei == 32
    assert (
        mine.tree.root
        == recompute(
            first_epoch=1,
            period=1,
            period_epochs=3,
            rewards=rewards,
            el_wei={},
            schedules=dict(reversed(schedules.items())),
            policy=LedgerPolicy(fee_bps=1000),
        ).tree.root
    )  # the file's order does not matter


def test_policy_text() -> None:
    assert parse_policy("fee_bps=1000,fee_mode=per_epoch_positive") == LedgerPolicy(
        fee_bps=1000, fee_mode="per_epoch_positive"
    )
    assert parse_policy("") == LedgerPolicy()
    for bad in ("fee=1", "fee_bps=-1", "fee_bps=20000", "fee_mode=never", "fee_bps"):
        with pytest.raises(UsageError):
            parse_policy(bad)
