"""Consolidation moves out of the queue at both ends of a window (accounting.md §2.8, §4.4)."""

from __future__ import annotations

from stakepool.beacon.models import PendingConsolidation
from stakepool.rewards.maths import settle
from stakepool.rewards.types import BalanceMoves
from stakepool.rewards.window import SourceState, consolidation_moves, processed_consolidations


def pc(source: int, target: int) -> PendingConsolidation:
    return PendingConsolidation.model_validate(
        {"source_index": str(source), "target_index": str(target)}
    )


def test_the_processed_entries_are_the_prefix_that_left() -> None:
    start = [pc(1, 2), pc(3, 4), pc(5, 6)]
    assert processed_consolidations(start, [pc(5, 6), pc(7, 8)]) == (pc(1, 2), pc(3, 4))
    assert processed_consolidations(start, start) == ()
    assert processed_consolidations(start, [*start, pc(9, 9)]) == ()
    assert processed_consolidations(start, []) == tuple(start)
    assert processed_consolidations([], [pc(1, 2)]) == ()
    # A repeated pair: the shortest prefix that explains the end queue.
    assert processed_consolidations([pc(1, 2), pc(1, 2)], [pc(1, 2)]) == (pc(1, 2),)


def test_moves_take_min_of_balance_and_effective_balance() -> None:
    sources = {
        1: SourceState(balance=32_012_345_678, effective_balance=32_000_000_000, slashed=False),
        3: SourceState(balance=31_500_000_000, effective_balance=31_000_000_000, slashed=False),
        5: SourceState(balance=30_900_000_000, effective_balance=31_000_000_000, slashed=False),
    }
    moved_in, moved_out = consolidation_moves([pc(1, 9), pc(3, 9), pc(5, 7)], sources)
    assert moved_out == {1: 32_000_000_000, 3: 31_000_000_000, 5: 30_900_000_000}
    assert moved_in == {9: 63_000_000_000, 7: 30_900_000_000}


def test_a_slashed_source_is_dropped_without_a_move() -> None:
    sources = {1: SourceState(32_000_000_000, 32_000_000_000, slashed=True)}
    assert consolidation_moves([pc(1, 2)], sources) == ({}, {})


def test_a_pool_internal_consolidation_leaves_the_pool_reward_unchanged() -> None:
    """§10.10: source and target in the pool; both earned 1,000 Gwei in the window."""
    source_balance, target_balance = 32_000_500_000, 64_100_000_000
    moved_in, moved_out = consolidation_moves(
        [pc(1, 2)], {1: SourceState(source_balance, 32_000_000_000, False)}
    )
    amount = moved_out[1]
    r_source = settle(
        source_balance, source_balance - amount + 1_000, BalanceMoves(consolidation_out_gwei=amount)
    )
    r_target = settle(
        target_balance,
        target_balance + moved_in[2] + 1_000,
        BalanceMoves(consolidation_in_gwei=moved_in[2]),
    )
    assert (r_source, r_target) == (1_000, 1_000)
