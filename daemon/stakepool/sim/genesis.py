"""The genesis state: every validator active from epoch 0 with 32 ETH plus a seeded excess, and
room for the brand-new validators the scenario deposits later (not in the registry yet)."""

from __future__ import annotations

import numpy as np

from stakepool.sim import ids
from stakepool.sim.params import SimParams
from stakepool.sim.rewards import COMPOUNDING_PREFIX, is_active, total_balance
from stakepool.sim.scenario import SimScenario
from stakepool.sim.shuffling import compute_proposers, compute_sync_committee
from stakepool.sim.state import BeaconState, Checkpoint

ZERO_ROOT = "0x" + "00" * 32


def genesis_state(
    p: SimParams, *, validators: int, seed: int, scenario: SimScenario
) -> BeaconState:
    n = validators + scenario.new_validators(validators)
    unborn = np.arange(n) >= validators
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 99])
    compounding = scenario.compounding_mask(n)
    prefix = np.where(compounding, COMPOUNDING_PREFIX, 1).astype(np.uint8)
    excess = rng.integers(0, max(1, scenario.genesis_excess_gwei), size=n, dtype=np.int64)
    balance = np.where(
        compounding,
        scenario.compounding_balance_gwei + excess,
        p.min_activation_balance + excess,
    ).astype(np.int64)
    balance[unborn] = 0
    max_eb = np.where(compounding, p.max_effective_balance_electra, p.min_activation_balance)
    eb = np.minimum(balance - balance % p.effective_balance_increment, max_eb).astype(np.int64)
    far = np.full(n, p.far_future_epoch, dtype=np.uint64)
    eligibility = np.where(unborn, far, np.uint64(0)).astype(np.uint64)
    activation = np.where(unborn, far, scenario.activation_epochs(n)).astype(np.uint64)
    registry = {"activation_epoch": activation, "exit_epoch": far, "effective_balance": eb}
    zero = Checkpoint(0, ZERO_ROOT)
    return BeaconState(
        slot=0,
        latest_block_root=ZERO_ROOT,
        latest_block_slot=0,
        balance=balance,
        effective_balance=eb,
        slashed=np.zeros(n, dtype=np.bool_),
        activation_eligibility_epoch=eligibility,
        activation_epoch=activation,
        exit_epoch=far,
        withdrawable_epoch=far.copy(),
        credential_prefix=prefix,
        previous_participation=np.zeros(n, dtype=np.uint8),
        current_participation=np.zeros(n, dtype=np.uint8),
        inactivity_scores=np.zeros(n, dtype=np.int64),
        slashings=np.zeros(p.epochs_per_slashings_vector, dtype=np.int64),
        justification_bits=(False, False, False, False),
        previous_justified=zero,
        current_justified=zero,
        finalized=zero,
        next_withdrawal_index=0,
        next_withdrawal_validator_index=0,
        pending_deposits=(),
        deposit_balance_to_consume=0,
        exit_balance_to_consume=0,
        earliest_exit_epoch=0,
        current_sync_committee=compute_sync_committee(p, seed, 0, **registry),
        next_sync_committee=compute_sync_committee(p, seed, 1, **registry),
        proposer_lookahead=np.concatenate(
            [compute_proposers(p, seed, e, **registry) for e in (0, 1)]
        ),
        total_active_balance=total_balance(p, eb, is_active(activation, far, 0)),
        next_deposit_request_index=0,
        attestation_pool=(),
        operation_pool=(),
        latest_block_number=0,
        latest_block_hash=ids.digest("el-genesis", seed),
        registry_size=validators,
    )
