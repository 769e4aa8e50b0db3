"""The simulator's reward maths against the reference numbers of accounting.md §2."""

from __future__ import annotations

import numpy as np
import pytest

from stakepool.sim.params import SimParams, integer_squareroot
from stakepool.sim.presets import spec_for
from stakepool.sim.rewards import (
    FLAG_BITS,
    EpochRewardInputs,
    apply_deltas,
    attestation_deltas,
    base_reward_per_increment,
    correlation_penalty_per_increment,
    effective_balance_updates,
    ideal_rewards,
    inactivity_updates,
    initial_slashing_penalty,
    next_sweep_index,
    participation_flags,
    proposer_attestation_reward,
    sweep_withdrawals,
    sync_rewards,
    whistleblower_reward,
)

ETH = 10**9
TAB = 34_000_000 * ETH
MAINNET = SimParams.from_spec(spec_for("mainnet"))
MINIMAL = SimParams.from_spec(spec_for("minimal"))
ALL = FLAG_BITS[0] | FLAG_BITS[1] | FLAG_BITS[2]


def test_base_reward_reference_values() -> None:
    assert integer_squareroot(34 * 10**15) == 184_390_889
    brpi = base_reward_per_increment(MAINNET, TAB)
    assert brpi == 347
    assert [eb // ETH * brpi for eb in (32 * ETH, 64 * ETH, 2048 * ETH)] == [
        11_104,
        22_208,
        710_656,
    ]


def test_sync_rewards_reference_values() -> None:
    assert sync_rewards(MAINNET, TAB) == (22_502, 3_214)


def test_proposer_share_of_an_attestation_divides_by_448() -> None:
    assert proposer_attestation_reward(MAINNET, 448 * 1000 + 447) == 1000


def _inputs(
    eb: list[int], flags: list[int], *, in_leak: bool = False, scores: list[int] | None = None
) -> EpochRewardInputs:
    n = len(eb)
    return EpochRewardInputs(
        epoch=10,
        effective_balance=np.array(eb, dtype=np.int64),
        participation=np.array(flags, dtype=np.uint8),
        eligible=np.ones(n, dtype=np.bool_),
        unslashed_active=np.ones(n, dtype=np.bool_),
        inactivity_scores=np.array(scores or [0] * n, dtype=np.int64),
        brpi=base_reward_per_increment(MAINNET, TAB),
        active_increments=TAB // ETH,
        # 99 % source/target, 98.5 % head participation (accounting.md §2.2)
        participating_increments=(33_660_000, 33_660_000, 33_490_000),
        in_leak=in_leak,
    )


def test_flag_deltas_reference_table() -> None:
    inp = _inputs([32 * ETH, 32 * ETH, 64 * ETH, 2048 * ETH], [ALL, 0, ALL, ALL])
    d = attestation_deltas(MAINNET, inp)
    assert d.source.tolist() == [2_404, -2_429, 4_809, 153_901]
    assert d.target.tolist() == [4_465, -4_511, 8_931, 285_816]
    assert d.head.tolist() == [2_392, 0, 4_785, 153_124]
    assert d.inactivity.tolist() == [0, 0, 0, 0]
    assert ideal_rewards(MAINNET, inp, 32 * ETH) == (2_404, 4_465, 2_392)


def test_leak_zeroes_rewards_and_charges_inactivity() -> None:
    inp = _inputs([32 * ETH, 32 * ETH], [ALL, 0], in_leak=True, scores=[0, 4])
    d = attestation_deltas(MAINNET, inp)
    assert (d.source.tolist(), d.target.tolist(), d.head.tolist()) == (
        [0, -2_429],
        [0, -4_511],
        [0, 0],
    )
    assert d.inactivity.tolist() == [0, -1_907]
    assert ideal_rewards(MAINNET, inp, 32 * ETH) == (0, 0, 0)
    after = apply_deltas(np.array([32 * ETH, 10], dtype=np.int64), d)
    assert after.tolist() == [32 * ETH, 0]  # floored at zero like decrease_balance


def test_inactivity_score_updates() -> None:
    eligible = np.array([True, True, True, False])
    hit = np.array([True, False, False, False])
    scores = np.array([3, 0, 20, 7], dtype=np.int64)
    assert inactivity_updates(MAINNET, scores, eligible, hit, in_leak=False).tolist() == [
        0,
        0,
        8,
        7,
    ]
    assert inactivity_updates(MAINNET, scores, eligible, hit, in_leak=True).tolist() == [
        2,
        4,
        24,
        7,
    ]


@pytest.mark.parametrize(
    ("delay", "source", "target", "head", "expected"),
    [
        (1, True, True, True, 0b111),
        (2, True, True, True, 0b011),
        (5, True, True, True, 0b011),
        (6, True, True, True, 0b010),
        (32, True, True, True, 0b010),
        (1, True, True, False, 0b011),
        (1, True, False, True, 0b001),
        (7, True, False, True, 0b000),
    ],
)
def test_flags_by_inclusion_delay(
    delay: int, source: bool, target: bool, head: bool, expected: int
) -> None:
    assert MAINNET.source_max_delay == 5
    flags = participation_flags(
        MAINNET, source_ok=source, target_ok=target, head_ok=head, delay=delay
    )
    assert flags == expected


def test_effective_balance_hysteresis() -> None:
    balance = np.array(
        [
            31_760_000_000,
            31_740_000_000,
            33_240_000_000,
            33_260_000_000,
            65_240_000_000,
            65_260_000_000,
            3000 * ETH,
        ],
        dtype=np.int64,
    )
    eb = np.array([32, 32, 32, 32, 64, 64, 2048], dtype=np.int64) * ETH
    prefix = np.array([1, 1, 1, 1, 2, 2, 2], dtype=np.uint8)
    new = effective_balance_updates(MAINNET, balance, eb, prefix) // ETH
    assert new.tolist() == [32, 31, 32, 32, 64, 65, 2048]


def test_sweep_partial_full_and_bounds() -> None:
    n = 40
    balance = np.full(n, 32 * ETH, dtype=np.int64)
    balance[[3, 5, 7, 9, 11]] += 1_000
    balance[20] += 5  # beyond the 16-validator window
    eb = np.full(n, 32 * ETH, dtype=np.int64)
    prefix = np.ones(n, dtype=np.uint8)
    prefix[5] = 0  # BLS credentials are never swept
    withdrawable = np.full(n, MINIMAL.far_future_epoch, dtype=np.uint64)
    withdrawable[7] = 3  # fully withdrawable from epoch 3
    got = sweep_withdrawals(
        MINIMAL,
        epoch=4,
        start_index=0,
        balance=balance,
        effective_balance=eb,
        credential_prefix=prefix,
        withdrawable_epoch=withdrawable,
    )
    assert got == [(3, 1_000), (7, 32 * ETH + 1_000), (9, 1_000), (11, 1_000)]
    assert next_sweep_index(MINIMAL, n, 0, got) == 12
    assert next_sweep_index(MINIMAL, n, 30, []) == (30 + 16) % n


def test_slashing_amounts() -> None:
    assert initial_slashing_penalty(MAINNET, 32 * ETH) == 7_812_500
    assert initial_slashing_penalty(MAINNET, 2048 * ETH) == 500_000_000
    assert whistleblower_reward(MAINNET, 32 * ETH) == 7_812_500
    per_inc = correlation_penalty_per_increment(MAINNET, 32 * ETH, TAB)
    assert per_inc == 2_823
    assert per_inc * 32 == 90_336
