"""Slashing and exit to the end: correlation penalty, exit, full withdrawal, exact accounting."""

from __future__ import annotations

from collections import Counter

import numpy as np

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.encode import STATUSES, status_codes
from stakepool.sim.presets import merged, spec_for
from stakepool.sim.rewards import attestation_deltas
from stakepool.sim.scenario import (
    LateVotes,
    Offline,
    ScheduledDeposit,
    ScheduledExit,
    ScheduledSlashing,
    SimScenario,
)

SPE = 8
END = 16


def _chain() -> SimChain:
    # A short slashings vector and withdrawability delay bring the whole lifecycle within reach.
    spec = merged(
        spec_for("minimal"), EPOCHS_PER_SLASHINGS_VECTOR=8, MIN_VALIDATOR_WITHDRAWABILITY_DELAY=2
    )
    scenario = SimScenario(
        offline=(Offline((0, 4)),),
        late_votes=(LateVotes((5, 9), delay=4),),
        slashings=(
            ScheduledSlashing("attester", (30, 31), announce_slot=SPE, include_slot=SPE + 1),
        ),
        exits=(ScheduledExit(40, announce_slot=3, include_slot=5),),
        deposits=(ScheduledDeposit(50, 1_500_000_000, 12),),
    )
    return SimChain(
        SimConfig(
            validators=160, seed=11, spec=spec, scenario=scenario, history_epochs=40, genesis_time=0
        )
    )


def test_correlation_penalty_exit_and_full_withdrawal_add_up() -> None:
    chain = _chain()
    p = chain.params
    start = chain.state_at_slot(0)
    assert start is not None
    chain.advance_to((END + 1) * SPE - 1)
    end = chain.head

    # Timeline of the slashed validator (slashed in epoch 1).
    exit_epoch = int(end.exit_epoch[30])
    assert exit_epoch == p.compute_activation_exit_epoch(1)
    assert int(end.withdrawable_epoch[30]) == max(exit_epoch + 2, 1 + 8)
    corr = chain.epoch_outcome(int(end.withdrawable_epoch[30]) - 4)
    assert corr is not None
    assert set(corr.correlation_penalties) == {30, 31}
    assert all(v > 0 for v in corr.correlation_penalties.values())
    idx = np.array([30, 40, 41], dtype=np.int64)
    codes = status_codes(end, END, idx, p.far_future_epoch)
    assert [STATUSES[c] for c in codes] == ["withdrawal_done", "withdrawal_done", "active_ongoing"]

    # r_v = ΔB + W − Dep must equal every component the chain says it paid or charged.
    flows: Counter[int] = Counter()
    explained: Counter[int] = Counter()
    for slot in range(1, (END + 1) * SPE):
        block = chain.block(str(slot))
        if block is None:
            continue
        for w in block.payload["withdrawals"]:
            flows[int(w["validator_index"])] += int(w["amount"])
        for d in block.body["execution_requests"]["deposits"]:
            flows[50] -= int(d["amount"])
        explained[block.proposer_index] += block.rewards.total
        for v, r in block.sync.per_validator().items():
            explained[v] += r
        for v, penalty in block.initial_penalties.items():
            explained[v] -= penalty
    for epoch in range(END - 1):
        inputs = chain.reward_inputs(epoch)
        assert inputs is not None
        d = attestation_deltas(p, inputs)
        total = d.source + d.target + d.head + d.inactivity
        for v in np.flatnonzero(total).tolist():
            explained[v] += int(total[v])
        outcome = chain.epoch_outcome(epoch + 1)
        assert outcome is not None
        for v, penalty in outcome.correlation_penalties.items():
            explained[v] -= penalty
    assert end.pending_deposits == ()
    assert flows[30] > 30 * 10**9
    assert flows[40] > 31 * 10**9
    for v in range(chain.validator_count):
        delta = int(end.balance[v]) - int(start.balance[v]) + flows[v]
        assert delta == explained[v], v
