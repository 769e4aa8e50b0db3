"""Per-validator, per-epoch rewards: balance-based settlement, endpoint explanation, residual."""

from stakepool.rewards.fetcher import RewardsFetcher, WindowNotReady
from stakepool.rewards.maths import (
    AttestationComponents,
    explain,
    initial_slashing_penalty,
    missed,
    residual,
    settle,
    sync_seat_reward,
)
from stakepool.rewards.tracker import RewardsTracker
from stakepool.rewards.types import (
    BalanceMoves,
    EpochRewards,
    ProposalEl,
    RewardExplanation,
    ValidatorEpochReward,
)

__all__ = [
    "AttestationComponents",
    "BalanceMoves",
    "EpochRewards",
    "ProposalEl",
    "RewardExplanation",
    "RewardsFetcher",
    "RewardsTracker",
    "ValidatorEpochReward",
    "WindowNotReady",
    "explain",
    "initial_slashing_penalty",
    "missed",
    "residual",
    "settle",
    "sync_seat_reward",
]
