"""accounting.md §9 through the pure maths: same totals exactly, each delegator within 1 Gwei."""

from __future__ import annotations

from stakepool.ledger.delegations import DelegationSet
from stakepool.ledger.policy import LedgerPolicy
from tests.unit.ledger import worked_example as ex
from tests.unit.ledger.model import PureLedger


def test_worked_example_totals_and_shares() -> None:
    policy = LedgerPolicy(fee_bps=1000, fee_mode="per_epoch_positive")
    ledger = PureLedger(policy, DelegationSet(ex.DELEGATIONS, "example").schedules())
    for inp in ex.inputs():
        s = ledger.settle(inp.epoch, inp.cl_reward_gwei, inp.el_reward_wei)
        assert s.reward_gwei == ex.POOL_REWARDS[inp.epoch]
    settlements = ledger.settlements
    assert sum(s.reward_gwei for s in settlements) == ex.TOTAL_REWARD
    assert sum(s.fee_gwei for s in settlements) == ex.TOTAL_FEE
    credits = {d: ledger.accrued(d) for d in ex.DELEGATOR_TOTALS}
    assert sum(credits.values()) + ledger.dust() == ex.TOTAL_CREDITS
    assert 0 <= ledger.dust() < len(credits)
    for d, reference in ex.DELEGATOR_TOTALS.items():
        assert abs(credits[d] - reference) <= 1, (d, credits[d], reference)
