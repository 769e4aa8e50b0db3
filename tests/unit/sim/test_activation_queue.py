"""Validators waiting in the activation queue: pending (no duty, no reward) until their epoch."""

from __future__ import annotations

import numpy as np

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.encode import STATUSES, status_codes
from stakepool.sim.rewards import activation_exit_churn_limit
from stakepool.sim.scenario import ScheduledActivation, ScheduledDeposit, SimScenario

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


def _statuses(chain: SimChain, indices: list[int]) -> list[str]:
    s = chain.head
    codes = status_codes(s, chain.head_epoch, np.array(indices), FAR).tolist()
    return [STATUSES[c] for c in codes]


def test_a_deposit_creates_a_validator_that_queues_then_activates_after_finality() -> None:
    # Validator 64 does not exist at genesis (64 validators: 0..63); its 32 ETH deposit request
    # is in the block of slot 9 (epoch 1), a second new validator's (65) right after.
    deposits = (
        ScheduledDeposit(64, 32_000_000_000, 9),
        ScheduledDeposit(65, 32_000_000_000, 10),
    )
    chain = SimChain(
        SimConfig(
            validators=64,
            seed=4,
            genesis_time=1_700_000_000,
            scenario=SimScenario(deposits=deposits),
        )
    )
    assert chain.validator_count == 64
    assert chain.head.n == 66  # room for both, not in the registry yet
    created = eligible = active = None
    for _ in range(12 * SPE):  # bounded: 12 epochs
        chain.advance_slot()
        s, epoch = chain.head, chain.head_epoch
        if created is None and s.visible > 64:
            created = epoch
            assert _statuses(chain, [64]) == ["pending_initialized"]
            assert int(s.balance[64]) == 32_000_000_000
            assert int(s.effective_balance[64]) == 32_000_000_000
            # Not before its deposit's slot was finalized (the deposit queue's rule).
            assert s.finalized.epoch * SPE >= 9
        if eligible is None and int(s.activation_eligibility_epoch[64]) != FAR:
            eligible = int(s.activation_eligibility_epoch[64])
            assert eligible == epoch  # queued at the transition after its creation
            assert created is not None
            assert eligible == created + 1
        if active is None and int(s.activation_epoch[64]) != FAR:
            active = int(s.activation_epoch[64])
            # Activated once its eligibility epoch is finalized, 1 + MAX_SEED_LOOKAHEAD later.
            assert s.finalized.epoch >= (eligible or 0)
            assert active == epoch + chain.params.max_seed_lookahead
    assert created is not None
    assert eligible is not None
    assert active is not None
    assert chain.validator_count == 66
    # No duty before activation, duties from it on; its balance untouched until then.
    for epoch in range(active - 1, active + 1):
        duties = chain.committees(epoch).duties(np.array([64]))[0].tolist()
        assert duties == ([0] if epoch < active else [1]), epoch
    chain.advance_to(active * SPE - 1)
    assert int(chain.head.balance[64]) == 32_000_000_000
    # Epoch ``active``'s votes are paid at the transition that ends ``active + 1``.
    chain.advance_to((active + 2) * SPE)
    assert _statuses(chain, [64]) == ["active_ongoing"]
    assert int(chain.head.balance[64]) > 32_000_000_000  # rewarded from its activation on


def test_the_deposit_churn_limits_new_validators_per_epoch() -> None:
    # Six 32 ETH deposits in one block: the deposit queue lets in what the activation churn
    # allows per epoch (Electra: a balance churn), the rest waits for the next epochs.
    n = 64
    many = tuple(ScheduledDeposit(n + k, 32_000_000_000, 9) for k in range(6))
    chain = SimChain(
        SimConfig(
            validators=n, seed=4, genesis_time=1_700_000_000, scenario=SimScenario(deposits=many)
        )
    )
    created: dict[int, int] = {}
    for _ in range(14 * SPE):
        chain.advance_slot()
        for v in range(n, chain.validator_count):
            created.setdefault(v, chain.head_epoch)
    assert sorted(created) == list(range(n, n + 6))
    per_epoch: dict[int, int] = {}
    for epoch in created.values():
        per_epoch[epoch] = per_epoch.get(epoch, 0) + 1
    limit = activation_exit_churn_limit(chain.params, chain.head.total_active_balance)
    assert max(per_epoch.values()) == limit // 32_000_000_000, (per_epoch, limit)
    assert len(per_epoch) == -(-6 // (limit // 32_000_000_000))  # queued over several epochs
