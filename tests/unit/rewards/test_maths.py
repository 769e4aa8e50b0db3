"""Settlement, explanation, residual and missed reward: accounting.md §4 and the §9 worked example."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stakepool.rewards.maths import (
    AttestationComponents,
    explain,
    initial_slashing_penalty,
    is_correlation_epoch,
    missed,
    residual,
    settle,
    sync_seat_reward,
)
from stakepool.rewards.types import BalanceMoves

PERFECT_32 = AttestationComponents(source=2_404, target=4_465, head=2_392)
"""§9: a 32-ETH validator's perfect attestation reward at TAB 34 M ETH (9,261 Gwei)."""
MISSED_ALL_32 = AttestationComponents(source=-2_429, target=-4_511, head=0, inactivity=0)
BLOCK_32069 = 45_494_274

gwei = st.integers(min_value=0, max_value=2_048 * 10**9)


def test_worked_example_v1_settlement_rows() -> None:
    """§9 table, V1: epoch 1002 (its proposal) and 1003 (the sweep), reconciled with the API."""
    r_1002 = settle(32_017_018_522, 32_062_522_057, BalanceMoves())
    assert r_1002 == 45_503_535
    e_1002 = explain(1000, PERFECT_32, block_rewards=[BLOCK_32069])
    assert e_1002.total == 45_503_535
    assert residual(r_1002, e_1002) == 0

    r_1003 = settle(32_062_522_057, 32_000_000_000, BalanceMoves(withdrawals_gwei=62_531_318))
    assert r_1003 == 9_261
    assert residual(r_1003, explain(1001, PERFECT_32)) == 0


def test_worked_example_v2_miss_and_slashing() -> None:
    """§9: V2 misses duty epoch 999 (−6,940 in window 1001) and is slashed in 1005."""
    miss = explain(999, MISSED_ALL_32)
    assert miss.total == -6_940
    assert missed(PERFECT_32, MISSED_ALL_32) == 16_201

    penalty = initial_slashing_penalty(32 * 10**9)
    assert penalty == 7_812_500
    slashed = explain(1003, PERFECT_32, slashing_penalty=penalty)
    assert slashed.total == -7_803_239
    balance = 32_000_000_000
    assert residual(settle(balance, balance - 7_803_239, BalanceMoves()), slashed) == 0
    assert initial_slashing_penalty(2_048 * 10**9) == 500_000_000  # §2.6: 0.5 ETH


def test_a_perfect_64_eth_validator_misses_nothing() -> None:
    perfect_64 = AttestationComponents(source=4_809, target=8_931, head=4_785)
    assert missed(perfect_64, perfect_64) == 0
    assert explain(1000, perfect_64).total == 18_525


def test_unknown_sides_give_unknown_not_zero() -> None:
    assert missed(None, PERFECT_32) is None
    assert missed(PERFECT_32, None) is None
    assert residual(5, None) is None
    unknown_corr = explain(1000, PERFECT_32, correlation_penalty=None)
    assert unknown_corr.total is None
    assert residual(9_261, unknown_corr) is None


def test_missed_during_a_leak_is_the_penalty_paid() -> None:
    """During a leak ideal rewards are 0; an offline validator's missed reward is what it paid."""
    leak_ideal = AttestationComponents(0, 0, 0)
    offline = AttestationComponents(source=-2_429, target=-4_511, head=0, inactivity=-1_907)
    assert missed(leak_ideal, offline) == 8_847


def test_no_row_means_no_attestation_income() -> None:
    assert explain(5, None, sync_rewards=[10, -10, 10]).total == 10


def test_duplicate_sync_seats_are_paid_per_seat_once() -> None:
    """§2.4: 22,502 Gwei per seat per slot; two seats both signed → twice, one missed → zero."""
    pr = 22_502
    assert sync_seat_reward(pr, [True]) == pr
    assert sync_seat_reward(pr, [False]) == -pr
    assert sync_seat_reward(pr, [True, True]) == 2 * pr
    assert sync_seat_reward(pr, [True, False]) == 0
    assert sync_seat_reward(pr, [False, False, True]) == -pr
    assert sync_seat_reward(pr, []) == 0


def test_switch_to_compounding_is_neutral() -> None:
    """The excess above 32 ETH leaves the balance into the deposit queue: not a loss."""
    moves = BalanceMoves(pending_deposits_end_gwei=1_500_000_000)
    assert settle(33_500_000_000, 32_000_000_000, moves) == 0


def test_pool_internal_consolidation_is_neutral() -> None:
    moved = 32_000_000_000
    source = settle(32_000_001_000, 1_000, BalanceMoves(consolidation_out_gwei=moved))
    target = settle(40_000_000_000, 72_000_000_000, BalanceMoves(consolidation_in_gwei=moved))
    assert source + target == 0


def test_correlation_epoch_is_recognised() -> None:
    # current_epoch (k − 1) + EPOCHS_PER_SLASHINGS_VECTOR // 2 == withdrawable_epoch
    assert is_correlation_epoch(5_102, True, 9_197, 8_192)
    assert not is_correlation_epoch(5_101, True, 9_197, 8_192)
    assert not is_correlation_epoch(5_102, False, 9_197, 8_192)


@given(
    start=gwei,
    reward=st.integers(min_value=-(10**8), max_value=10**8),
    withdrawn=st.integers(min_value=0, max_value=10**11),
    split=st.integers(min_value=0, max_value=100),
)
def test_withdrawal_timing_never_changes_the_reward(
    start: int, reward: int, withdrawn: int, split: int
) -> None:
    """§10.8: moving (part of) a sweep from window k to k+1 leaves r_v(k) + r_v(k+1) unchanged
    and each window's r_v equal to its reward."""
    end = start + reward
    early = withdrawn * split // 100
    late = withdrawn - early
    mid = end - early
    assert settle(start, mid, BalanceMoves(withdrawals_gwei=early)) == reward
    assert settle(mid, mid + reward - late, BalanceMoves(withdrawals_gwei=late)) == reward


@given(
    start=gwei,
    reward=st.integers(min_value=-(10**8), max_value=10**8),
    amount=st.integers(min_value=1, max_value=2_048 * 10**9),
    applied_now=st.booleans(),
)
def test_deposits_are_neutral_queued_or_applied(
    start: int, reward: int, amount: int, applied_now: bool
) -> None:
    """§10.9: a deposit request in window k, applied in k or later, never changes r_v."""
    if applied_now:
        moves = BalanceMoves(deposit_requests_gwei=amount)
        assert settle(start, start + reward + amount, moves) == reward
    else:
        queued = BalanceMoves(deposit_requests_gwei=amount, pending_deposits_end_gwei=amount)
        assert settle(start, start + reward, queued) == reward
        applied = BalanceMoves(pending_deposits_start_gwei=amount)
        assert settle(start + reward, start + 2 * reward + amount, applied) == reward


@given(
    source=st.integers(-(10**6), 10**6),
    target=st.integers(-(10**6), 10**6),
    head=st.integers(0, 10**6),
    inactivity=st.integers(-(10**7), 0),
    blocks=st.lists(st.integers(0, 10**8), max_size=3),
    sync=st.lists(st.integers(-(10**5), 10**5), max_size=32),
    penalty=st.integers(0, 10**9),
)
def test_a_balance_that_moved_by_the_explanation_has_zero_residual(
    source: int,
    target: int,
    head: int,
    inactivity: int,
    blocks: list[int],
    sync: list[int],
    penalty: int,
) -> None:
    e = explain(
        7,
        AttestationComponents(source, target, head, inactivity),
        block_rewards=blocks,
        sync_rewards=sync,
        slashing_penalty=penalty,
    )
    start = 40 * 10**9
    assert e.total is not None
    r = settle(start, start + e.total, BalanceMoves())
    assert residual(r, e) == 0
    assert residual(r + 1, e) == 1


PERFECT_64 = AttestationComponents(source=4_809, target=8_931, head=4_785)
# §9: balances at LAST(999), then per window k = 1000…1005: (withdrawals, explanation inputs).
SECTION_9: dict[str, tuple[int, list[tuple[int, AttestationComponents, list[int], int]]]] = {
    "V1": (
        32_017_000_000,
        [
            (0, PERFECT_32, [], 0),
            (0, PERFECT_32, [], 0),
            (0, PERFECT_32, [BLOCK_32069], 0),
            (62_531_318, PERFECT_32, [], 0),
            (0, PERFECT_32, [], 0),
            (0, PERFECT_32, [], 0),
        ],
    ),
    "V2": (
        32_003_000_000,
        [
            (0, PERFECT_32, [], 0),
            (0, MISSED_ALL_32, [], 0),
            (0, PERFECT_32, [], 0),
            (0, PERFECT_32, [], 0),
            (0, PERFECT_32, [], 0),
            (0, PERFECT_32, [], 7_812_500),
        ],
    ),
    "V3": (64_020_000_000, [(0, PERFECT_64, [], 0)] * 6),
}
EXPECTED_R = {
    "V1": [9_261, 9_261, 45_503_535, 9_261, 9_261, 9_261],
    "V2": [9_261, -6_940, 9_261, 9_261, 9_261, -7_803_239],
    "V3": [18_525] * 6,
}
POOL_R = [37_047, 20_846, 101_531_321, 37_047, 37_047, -7_775_453]
"""§9 pool reward per window, EL included (56,000,000 Gwei in 1002)."""


def test_section_9_table_settles_and_reconciles_window_by_window() -> None:
    per_window = [0] * 6
    for name, (first_balance, windows) in SECTION_9.items():
        balance = first_balance
        for i, (withdrawn, attestation, blocks, slashing) in enumerate(windows):
            e = explain(998 + i, attestation, block_rewards=blocks, slashing_penalty=slashing)
            assert e.total is not None
            end = balance + e.total - withdrawn  # how the chain moved the balance
            r = settle(balance, end, BalanceMoves(withdrawals_gwei=withdrawn))
            assert r == EXPECTED_R[name][i], (name, 1000 + i)
            assert residual(r, e) == 0
            per_window[i] += r
            balance = end
        if name == "V1":
            assert balance == 32_000_018_522  # the §9 table's last V1 balance
    el_gwei = [0, 0, 56_000_000, 0, 0, 0]
    assert [r + el for r, el in zip(per_window, el_gwei, strict=True)] == POOL_R
