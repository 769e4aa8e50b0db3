"""What the daemon tells as it follows the chain, besides the monitor's events: that it started
(which chain, which pool, which nodes) and each closed epoch's pool balances.

Published on the event bus by the supervisor; the faces (log lines, the console, sd_notify)
subscribe. Amounts are ``int`` Gwei.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stakepool.chain.balance_view import BalanceView
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, Gwei, Slot, ValidatorIndex
from stakepool.monitor.head import HeadView
from stakepool.monitor.pool import PoolMember


@dataclass(frozen=True, slots=True)
class Started:
    """The daemon is ready: a node answered with the right chain and the pool is resolved."""

    spec: ChainSpec
    members: tuple[PoolMember, ...]
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EpochReport:
    epoch: Epoch
    state_slot: Slot
    """The last slot of the epoch: balances are those of the state there."""
    balances: Mapping[ValidatorIndex, Gwei]
    previous: Mapping[ValidatorIndex, Gwei] | None
    """The balances at the end of the epoch before, when this run saw them."""
    head: HeadView

    @property
    def total(self) -> Gwei:
        if isinstance(self.balances, BalanceView):
            return Gwei(self.balances.total())
        return Gwei(sum(self.balances.values()))

    @property
    def change(self) -> int | None:
        """Σ balance change over the epoch (not yet a reward: withdrawals are not added back)."""
        now, before = self.balances, self.previous
        if before is None:
            return None
        if (
            isinstance(now, BalanceView)
            and isinstance(before, BalanceView)
            and now.same_validators(before)
        ):
            return now.total() - before.total()  # the usual case: sums over the arrays
        if now.keys() == before.keys():  # sums in C (100,000 at every close)
            return sum(now.values()) - sum(before.values())
        common = now.keys() & before.keys()
        return sum(map(now.__getitem__, common)) - sum(map(before.__getitem__, common))
