"""The simulated chain: determinism, block contents, finality, leaks, reorgs."""

from __future__ import annotations

import numpy as np
import pytest

from stakepool.chain.bitfields import (
    attesting_indices,
    decode_bitvector,
    encode_bitlist,
    encode_bitvector,
)
from stakepool.sim.bits import bitlist_hex, bitvector_hex
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.rewards import attestation_deltas
from stakepool.sim.scenario import (
    LateVotes,
    Offline,
    ScheduledDeposit,
    ScheduledSlashing,
    SimScenario,
    WrongVotes,
)

SPE = 8


def _chain(
    scenario: SimScenario | None = None, *, seed: int = 5, validators: int = 200
) -> SimChain:
    return SimChain(
        SimConfig(
            validators=validators,
            seed=seed,
            scenario=scenario or SimScenario(),
            genesis_time=1_600_000_000,
        )
    )


def test_same_seed_same_chain_other_seed_other_chain() -> None:
    a, b, c = _chain(seed=1), _chain(seed=1), _chain(seed=2)
    for chain in (a, b, c):
        chain.advance_epochs(3)
    assert a.head.state_root == b.head.state_root
    assert np.array_equal(a.head.balance, b.head.balance)
    assert a.head.state_root != c.head.state_root
    assert not np.array_equal(a.head.balance, c.head.balance)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_numpy_bitfields_match_the_reference_encoder(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (0, 1, 7, 8, 9, 64, 513):
        bits = rng.integers(0, 2, size=n).astype(np.bool_)
        assert bitlist_hex(bits) == encode_bitlist(bits.tolist())
        if n:
            assert bitvector_hex(bits) == encode_bitvector(bits.tolist())


def test_block_attestations_decode_to_the_voters() -> None:
    scenario = SimScenario(
        offline=(Offline((0, 19)),),
        late_votes=(LateVotes((20, 29), delay=2),),
        wrong_votes=(WrongVotes((30, 39), "target"),),
    )
    chain = _chain(scenario)
    chain.advance_to(3 * SPE)
    p = chain.params
    seen: set[int] = set()
    for slot in range(2 * SPE, 3 * SPE):
        for block in chain.blocks_at_slot(slot):
            for att in block.body["attestations"]:
                att_slot = int(att["data"]["slot"])
                ec = chain.committees(p.epoch_of(att_slot))
                committees = dict(enumerate(ec.slot_committees(att_slot % SPE)))
                voters = attesting_indices(
                    att["aggregation_bits"],
                    att["committee_bits"],
                    {k: v.tolist() for k, v in committees.items()},
                    max_committees_per_slot=p.max_committees_per_slot,
                )
                assert voters
                assert not any(v < 20 for v in voters)
                if any(20 <= v < 30 for v in voters):
                    assert all(20 <= v < 30 for v in voters)
                    assert slot - att_slot == 2
                seen.update(voters)
    # everyone online with a duty in epoch 2 (slots 16..22 included by 23) got in
    assert seen >= {v for v in range(40, 200) if chain.committees(2).duty(v)[0] < SPE - 2}


def test_sync_aggregate_bits_cover_the_committee() -> None:
    chain = _chain(SimScenario(offline=(Offline((0, 49)),)))
    chain.advance_to(5)
    block = chain.block("head")
    assert block is not None
    bits = decode_bitvector(
        block.body["sync_aggregate"]["sync_committee_bits"], chain.params.sync_committee_size
    )
    seats = chain.head.current_sync_committee.tolist()
    assert bits == [v >= 50 for v in seats]


def test_healthy_chain_finalizes_two_epochs_behind() -> None:
    chain = _chain()
    chain.advance_epochs(6)
    assert chain.head.finalized.epoch == chain.head_epoch - 2
    assert chain.head.current_justified.epoch == chain.head_epoch - 1
    degraded = _chain(SimScenario(offline=(Offline((0, 29)),)))
    degraded.advance_epochs(6)
    assert degraded.head.finalized.epoch >= degraded.head_epoch - 3


def test_finality_stall_leaks_offline_validators() -> None:
    chain = _chain(SimScenario(offline=(Offline((0, 9)),), finality_stall=(2, 20)))
    chain.advance_epochs(12)
    head = chain.head
    assert head.finalized.epoch <= 1
    inputs = chain.reward_inputs(chain.head_epoch - 2)
    assert inputs is not None
    assert inputs.in_leak
    assert int(head.inactivity_scores[0]) > 20
    assert int(head.inactivity_scores[50]) == 0
    d = attestation_deltas(chain.params, inputs, np.array([0, 50], dtype=np.int64))
    assert d.inactivity[0] < 0
    assert d.source[1] == 0
    assert d.head[1] == 0


def test_orphaned_block_is_undone() -> None:
    orphan = 2 * SPE + 3
    chain = _chain(SimScenario(orphaned_slots=frozenset({orphan})))
    chain.advance_to(orphan)
    assert chain.block(str(orphan)) is not None
    outcome = chain.advance_slot()
    topics = [t for t, _ in outcome.events]
    assert topics[0] == "chain_reorg"
    assert chain.block(str(orphan)) is None
    (orphaned,) = chain.blocks_at_slot(orphan)
    assert not orphaned.canonical
    assert outcome.block is not None
    assert outcome.block.parent_root == orphaned.parent_root
    before, at = chain.state_at_slot(orphan - 1), chain.state_at_slot(orphan)
    assert before is not None
    assert at is not None
    assert np.array_equal(before.balance, at.balance)


def test_slashing_and_deposit_lifecycle() -> None:
    scenario = SimScenario(
        slashings=(ScheduledSlashing("attester", (7, 8), announce_slot=3, include_slot=SPE + 1),),
        deposits=(ScheduledDeposit(9, 2_000_000_000, 2),),
    )
    chain = _chain(scenario)
    chain.advance_to(4)
    assert [op.validators for op in chain.slashing_pool()] == [(7, 8)]
    assert [d.amount for d in chain.head.pending_deposits] == [2_000_000_000]
    chain.advance_to(2 * SPE)
    assert chain.slashing_pool() == ()
    head = chain.head
    assert head.slashed[[7, 8]].all()
    assert int(head.withdrawable_epoch[7]) >= 1 + chain.params.epochs_per_slashings_vector
    chain.advance_epochs(4)
    assert chain.head.pending_deposits == ()
    assert int(chain.head.balance[9]) > 33 * 10**9


def test_slashed_proposer_misses_its_slots() -> None:
    chain = _chain(
        SimScenario(
            slashings=(ScheduledSlashing("proposer", (11,), announce_slot=1, include_slot=2),)
        )
    )
    chain.advance_epochs(6)
    for slot in range(3 * SPE, chain.head_slot + 1):
        for block in chain.blocks_at_slot(slot):
            assert block.proposer_index != 11


def test_sync_committee_rotates_at_the_period_boundary() -> None:
    chain = _chain()
    period = chain.params.epochs_per_sync_committee_period
    first_next = chain.head.next_sync_committee.copy()
    chain.advance_to(period * SPE)
    assert np.array_equal(chain.head.current_sync_committee, first_next)
    assert chain.sync_committee(period) is not None
    assert not np.array_equal(chain.head.next_sync_committee, first_next)


@pytest.mark.parametrize("preset", ["mainnet", "gnosis"])
def test_other_presets_step_and_finalize(preset: str) -> None:
    chain = SimChain(SimConfig(validators=512, preset=preset, seed=3, genesis_time=0))
    chain.advance_epochs(4)
    assert chain.head_slot == 4 * chain.params.slots_per_epoch
    assert chain.head.finalized.epoch == 2
    block = chain.block("head")
    assert block is not None
    assert (
        len(block.body["sync_aggregate"]["sync_committee_bits"])
        == 2 + chain.params.sync_committee_size // 4
    )


def test_duplicate_sync_seats_are_paid_per_seat() -> None:
    chain = _chain(SimScenario(offline=(Offline((0, 99)),)))
    chain.advance_to(3)
    block = chain.block("head")
    assert block is not None
    seats = block.sync.seats.tolist()
    per_validator = block.sync.per_validator()
    reward = block.sync.participant_reward
    for v, total in per_validator.items():
        sign = -1 if v < 100 else 1
        assert total == sign * reward * seats.count(v)
    assert any(seats.count(v) > 1 for v in seats)
