"""The pool's accounting policy: operator fee and who bears a loss (accounting.md, policies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

FeeMode = Literal["high_water_mark", "per_epoch_positive", "period_net"]
LossPolicy = Literal["socialized", "operator_first"]
FEE_MODES: tuple[str, ...] = get_args(FeeMode)
LOSS_POLICIES: tuple[str, ...] = get_args(LossPolicy)
BPS_DENOMINATOR = 10_000


@dataclass(frozen=True, slots=True)
class LedgerPolicy:
    fee_bps: int = 0
    fee_mode: FeeMode = "high_water_mark"
    loss_policy: LossPolicy = "socialized"
    operator_bond_gwei: int = 0
    """``operator_first``: losses are taken from this bond before they reach delegators."""
    fee_period_epochs: int = 225
    """``period_net``: the fee period (225 epochs = one mainnet day), aligned on epoch 0."""

    def __post_init__(self) -> None:
        if not 0 <= self.fee_bps <= BPS_DENOMINATOR:
            raise ValueError(f"fee_bps must be in 0..{BPS_DENOMINATOR}, got {self.fee_bps}")
        if self.fee_mode not in FEE_MODES:
            raise ValueError(
                f"fee_mode must be one of {', '.join(FEE_MODES)}, got {self.fee_mode!r}"
            )
        if self.loss_policy not in LOSS_POLICIES:
            raise ValueError(
                f"loss_policy must be one of {', '.join(LOSS_POLICIES)}, got {self.loss_policy!r}"
            )
        if self.operator_bond_gwei < 0:
            raise ValueError(f"operator_bond_gwei must be >= 0, got {self.operator_bond_gwei}")
        if self.fee_period_epochs < 1:
            raise ValueError(f"fee_period_epochs must be >= 1, got {self.fee_period_epochs}")
