"""Operator fee per epoch for the three fee modes. Pure integer maths.

Each mode charges a cumulative fee that is an exact floor of ``base × bps / 10 000`` and books,
per epoch, the increase of that cumulative figure, so no rounding unit is lost across epochs:

* ``per_epoch_positive``: ``F(k) = R(k)·bps // 10 000`` when ``R(k) > 0``, else 0.
* ``high_water_mark``: the base is the pool's cumulative net result ``C`` above its previous peak
  ``H`` (starting at 0): ``H' = max(H, C + R)``, ``F = H'·bps // 10 000 − H·bps // 10 000``. No fee
  while an earlier loss is being earned back; never a fee on a losing epoch.
* ``period_net``: periods of ``fee_period_epochs`` epochs aligned on epoch 0. The period's fee is
  ``max(0, Σ_period R)·bps // 10 000``, charged once in the period's last epoch (Lido-style: one
  report per period, no fee on a period that lost). The fee is then bounded by the period's net
  result, not by that single epoch's ``R``.
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.ledger.policy import BPS_DENOMINATOR, LedgerPolicy


@dataclass(frozen=True, slots=True)
class FeeState:
    cumulative_net_gwei: int = 0
    """Σ R so far (high_water_mark)."""
    high_water_mark_gwei: int = 0
    period_net_gwei: int = 0
    """Σ R since the current period began (period_net)."""


def _cut(amount: int, bps: int) -> int:
    return amount * bps // BPS_DENOMINATOR


def period_of(epoch: int, policy: LedgerPolicy) -> int:
    return epoch // policy.fee_period_epochs


def is_period_end(epoch: int, policy: LedgerPolicy) -> bool:
    return (epoch + 1) % policy.fee_period_epochs == 0


def operator_fee(
    epoch: int, reward_gwei: int, state: FeeState, policy: LedgerPolicy
) -> tuple[int, FeeState]:
    """The fee booked in ``epoch`` for pool result ``reward_gwei`` and the fee state after it."""
    bps = policy.fee_bps
    cumulative = state.cumulative_net_gwei + reward_gwei
    peak = max(state.high_water_mark_gwei, cumulative)
    period_net = state.period_net_gwei + reward_gwei
    if policy.fee_mode == "per_epoch_positive":
        fee = _cut(reward_gwei, bps) if reward_gwei > 0 else 0
    elif policy.fee_mode == "high_water_mark":
        fee = _cut(peak, bps) - _cut(state.high_water_mark_gwei, bps)
    else:
        fee = _cut(max(0, period_net), bps) if is_period_end(epoch, policy) else 0
    if is_period_end(epoch, policy):
        period_net = 0
    return fee, FeeState(cumulative, peak, period_net)
