"""Validators waiting in the activation queue: pending (no duty, no reward) until their epoch."""

from __future__ import annotations

import numpy as np

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.encode import STATUSES, status_codes
from stakepool.sim.scenario import ScheduledActivation, SimScenario

SPE = 8
FAR = 2**64 - 1


def test_pending_until_the_activation_epoch_then_active() -> None:
    scenario = SimScenario(activations=(ScheduledActivation((10, 11), 2),))
    chain = SimChain(
        SimConfig(validators=64, seed=4, genesis_time=1_700_000_000, scenario=scenario)
    )
    watched = np.array([9, 10, 11])
    for epoch in range(4):
        duties = chain.committees(epoch).duties(watched)[0].tolist()
        assert duties == ([1, 0, 0] if epoch < 2 else [1, 1, 1]), epoch
    assert not {10, 11} & set(chain.sync_committee(0).tolist())  # type: ignore[union-attr]
    at_genesis = int(chain.head.balance[10])

    chain.advance_to(SPE + 7)  # the end of epoch 1: still queued, never rewarded
    for epoch in (0, 1):
        proposers = chain.proposers(epoch)
        assert proposers is not None
        assert not {10, 11} & set(proposers.tolist())
    codes = status_codes(chain.head, 1, np.array([10, 9]), FAR).tolist()
    assert [STATUSES[c] for c in codes] == ["pending_queued", "active_ongoing"]
    assert int(chain.head.balance[10]) <= at_genesis
    chain.advance_to(4 * SPE)
    assert STATUSES[status_codes(chain.head, 4, np.array([10]), FAR)[0]] == "active_ongoing"
