"""How far one validator's settlement ``r_v(k)`` can go in one epoch, by the protocol (pure).

``r_v(k) = ΔB + W − Dep + ConsOut − ConsIn`` (accounting.md §4.1) has withdrawals, deposits and
consolidations already taken out: what is left is rewards and penalties, which the spec bounds
(Altair+ incentive accounting, Bellatrix/Electra parameters; accounting.md §2). A window ``k``
spans one epoch transition (into ``k``) and the blocks of ``k``. With ``I = EB // EBI`` (EB at
``LAST(k − 1)``, the one the transition uses), ``S`` slots per epoch, ``n`` sync committee size:

* ``brpi ≤ EBI·BRF // isqrt(TAB_lo)`` (it falls as TAB grows), so ``base_reward ≤ I·brpi``;
* the total base reward ``T = brpi·(TAB // EBI) ≤ BRF·TAB / isqrt(TAB) < BRF·(isqrt(TAB_hi) + 3)``
  (it grows with TAB);
* attestation flags of ``k − 2`` pay at most ``base_reward·54/64 ≤ base_reward`` and cost at most
  ``base_reward·40/64`` (source + target; a missed head costs nothing);
* a sync seat pays or costs ``T·2 // 64 // S // n`` per slot with a block: ``≤ ⌈2T / (64·n)⌉``
  per epoch per seat (a validator may hold several seats);
* a slashing included in ``k`` costs ``EB // Q`` at once, ``Q`` the fork's quotient (Altair 64,
  Bellatrix to Deneb 32, Electra 4096; possible in any window, so always allowed for); a validator already slashed may pay the correlation penalty (up to its EB):
  no lower bound then;
* inactivity penalties ``EB·score // (4·2²⁴)`` need the score, which the API does not give: while
  the chain leaks or recovers from a leak (``leak_possible``) there is no lower bound;
* a block of ours pays the proposer for attestations, the sync aggregate and whistleblowing (up to
  every slashing the block includes): no upper bound in a window where the validator proposed.

Everything rounds outwards, so the bounds are never tighter than the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

SOURCE_TARGET_WEIGHT = 14 + 26
WEIGHT_DENOMINATOR = 64
SYNC_REWARD_WEIGHT = 2


@dataclass(frozen=True, slots=True)
class ChainScale:
    """The chain's constants and what is known of the total active balance (Gwei)."""

    slots_per_epoch: int
    effective_balance_increment: int
    base_reward_factor: int
    sync_committee_size: int
    total_active_min: int
    """A sound lower bound of TAB (e.g. the pool's own active effective balance)."""
    total_active_max: int
    """A sound upper bound of TAB (e.g. all the ether there is)."""
    slashing_quotient: int
    """The fork's ``MIN_SLASHING_PENALTY_QUOTIENT`` in window ``k``."""

    def brpi_max(self) -> int:
        ebi = self.effective_balance_increment
        return ebi * self.base_reward_factor // isqrt(max(ebi, self.total_active_min))

    def total_base_max(self) -> int:
        return self.base_reward_factor * (isqrt(max(1, self.total_active_max)) + 3)

    def sync_seat_max(self) -> int:
        """Most one seat gains or loses in one epoch."""
        return _ceil_div(SYNC_REWARD_WEIGHT * self.total_base_max(), 64 * self.sync_committee_size)


@dataclass(frozen=True, slots=True)
class Bounds:
    low: int | None
    """The least ``r_v(k)`` can be; None: no bound."""
    high: int | None
    """The most ``r_v(k)`` can be; None: no bound."""

    def admits(self, settlement: int) -> bool:
        return (self.low is None or settlement >= self.low) and (
            self.high is None or settlement <= self.high
        )


def settlement_bounds(
    scale: ChainScale,
    *,
    effective_balance: int,
    sync_seats: int,
    proposed: bool,
    slashed: bool,
    leak_possible: bool,
) -> Bounds:
    """The protocol's range for one validator's ``r_v(k)`` (see the module doc)."""
    if effective_balance < 0 or sync_seats < 0:
        raise ValueError("effective_balance and sync_seats must be ≥ 0")
    base = effective_balance // scale.effective_balance_increment * scale.brpi_max()
    sync = sync_seats * scale.sync_seat_max()
    high = None if proposed else base + sync
    if slashed or leak_possible:
        return Bounds(None, high)
    loss = (
        _ceil_div(base * SOURCE_TARGET_WEIGHT, WEIGHT_DENOMINATOR)
        + sync
        + effective_balance // scale.slashing_quotient
    )
    return Bounds(-loss, high)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
