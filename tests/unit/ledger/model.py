"""An in-memory driver of the pure ledger maths (no store): settle epochs, read delegators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from stakepool.ledger.accumulator import accrued_scaled, to_gwei
from stakepool.ledger.delegations import weight_at
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import (
    EpochSettlement,
    EpochSettlementInput,
    LedgerState,
    settle_epoch,
)


@dataclass
class PureLedger:
    policy: LedgerPolicy
    schedules: Mapping[str, Sequence[tuple[int, int]]]
    state: LedgerState = field(default_factory=LedgerState)
    acc: dict[int, int] = field(default_factory=dict)
    settlements: list[EpochSettlement] = field(default_factory=list)
    exact: dict[str, Fraction] = field(default_factory=dict)

    def weights(self, epoch: int) -> dict[str, int]:
        return {d: weight_at(s, epoch) for d, s in self.schedules.items()}

    def settle(self, epoch: int, cl: int, el_wei: int | None = None) -> EpochSettlement:
        weights = self.weights(epoch)
        total = sum(weights.values())
        result, self.state = settle_epoch(
            self.state,
            EpochSettlementInput(epoch, cl, el_wei),
            total_weight_gwei=total,
            delegators=sum(1 for w in weights.values() if w > 0),
            policy=self.policy,
        )
        self.acc[epoch] = self.state.acc_scaled
        self.settlements.append(result)
        for d, w in weights.items():
            share = Fraction(result.distributed_gwei * w, total) if total else Fraction(0)
            self.exact[d] = self.exact.get(d, Fraction(0)) + share
        return result

    def acc_after(self, epoch: int) -> int:
        known = [e for e in self.acc if e <= epoch]
        return self.acc[max(known)] if known else 0

    def accrued(self, delegator: str, up_to: int | None = None) -> int:
        sched = self.schedules[delegator]
        last = up_to if up_to is not None else max(self.acc)
        if not sched:
            return 0
        return to_gwei(accrued_scaled(sched, self.acc_after, sched[0][0], last))

    def dust(self) -> int:
        distributed = sum(s.distributed_gwei for s in self.settlements)
        return distributed - sum(self.accrued(d) for d in self.schedules)
