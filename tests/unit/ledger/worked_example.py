"""accounting.md §9 as data: weights, validator settlements, EL reward, and the reference table."""

from __future__ import annotations

from stakepool.ledger.delegations import Delegation
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow

ETH = 10**9
V1, V2, V3 = 1, 2, 3

# Ownership changes as delegations: D0 sells parts of its position as D2..D5 join.
DELEGATIONS = (
    Delegation("D0", 4 * ETH, 1000),
    Delegation("D0", 8 * ETH, 1000, 1004),
    Delegation("D0", 12 * ETH, 1000, 1003),
    Delegation("D0", 16 * ETH, 1000, 1002),
    Delegation("D0", 24 * ETH, 1000, 1001),
    Delegation("D1", 64 * ETH, 1000),
    Delegation("D2", 24 * ETH, 1001),
    Delegation("D3", 16 * ETH, 1002),
    Delegation("D4", 12 * ETH, 1003),
    Delegation("D5", 8 * ETH, 1004),
)

SETTLEMENTS = {  # r_v(k) per validator, from the settlement view table
    1000: (9_261, 9_261, 18_525),
    1001: (9_261, -6_940, 18_525),
    1002: (45_503_535, 9_261, 18_525),
    1003: (9_261, 9_261, 18_525),
    1004: (9_261, 9_261, 18_525),
    1005: (9_261, -7_803_239, 18_525),
}
EL_WEI = {1002: 56_000_000 * 10**9}  # the MEV-boost payment, 0.056 ETH


def inputs() -> list[EpochSettlementInput]:
    out = []
    for epoch, rewards in SETTLEMENTS.items():
        rows = tuple(
            ValidatorEpochRow(
                index, reward, attestation_included=not (index == V2 and epoch == 1001)
            )
            for index, reward in zip((V1, V2, V3), rewards, strict=True)
        )
        out.append(EpochSettlementInput(epoch, sum(rewards), EL_WEI.get(epoch, 0), rows))
    return out


# Reference (largest remainder, per_epoch_positive 1000 bps).
POOL_REWARDS = {
    1000: 37_047,
    1001: 20_846,
    1002: 101_531_321,
    1003: 37_047,
    1004: 37_047,
    1005: -7_775_453,
}
TOTAL_REWARD = 93_887_855
TOTAL_FEE = 10_166_328
TOTAL_CREDITS = 83_721_527
DELEGATOR_TOTALS = {
    "D0": 16_917_130,
    "D1": 41_860_763,
    "D2": 15_691_535,
    "D3": 10_458_678,
    "D4": -722_697,
    "D5": -483_882,
}
