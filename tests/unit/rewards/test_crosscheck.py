"""Comparing two nodes' balance changes: a one-epoch error shows in that epoch only."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stakepool.rewards.crosscheck import Disagreement, VoteDisagreement, compare, compare_votes


def test_a_gwei_more_in_one_epoch_is_named() -> None:
    before = {1: 32_000_000_000, 2: 32_000_000_000}
    primary_after = {1: 32_000_010_000, 2: 32_000_010_000}
    witness_after = {1: 32_000_010_000, 2: 32_000_010_001}
    assert compare([1, 2], (before, primary_after), (before, witness_after)) == (
        Disagreement(2, 10_000, 10_001),
    )


def test_the_same_error_carried_forward_is_not_named_again() -> None:
    # The witness's balances stay 1 Gwei higher after the bad epoch: the next change agrees.
    primary = ({2: 32_000_010_000}, {2: 32_000_020_000})
    witness = ({2: 32_000_010_001}, {2: 32_000_020_001})
    assert compare([2], primary, witness) == ()


def test_a_validator_one_node_does_not_report() -> None:
    primary = ({5: 1, 6: 1}, {5: 2, 6: 2})
    witness = ({5: 1, 6: 1}, {6: 2})
    assert compare([5, 6], primary, witness) == (Disagreement(5, 1, None),)


balances = st.dictionaries(st.integers(0, 9), st.integers(0, 2**40), max_size=10)


@given(balances, balances)
def test_the_same_answers_always_agree(before: dict[int, int], after: dict[int, int]) -> None:
    assert compare(list(range(10)), (before, after), (dict(before), dict(after))) == ()


def test_a_different_verdict_is_named_and_a_missing_one_too() -> None:
    primary = {1: (10, 20, 15), 2: (10, 20, 15), 3: (-5, -9, -7)}
    witness = {1: (10, 20, 15), 2: (0, 20, 15)}
    assert compare_votes([1, 2, 3], primary, witness) == (
        VoteDisagreement(2, (10, 20, 15), (0, 20, 15)),
        VoteDisagreement(3, (-5, -9, -7), None),
    )
