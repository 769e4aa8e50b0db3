"""Cross-check against the in-process simulator: our verdicts equal the protocol's own bookkeeping.

The simulator applies the consensus rules and records each validator's participation flags in its
state; decoding the blocks it produced must give the same flags, validator by validator.
"""

from __future__ import annotations

import pytest

from stakepool.beacon.models import Checkpoint, HeaderInfo, SignedBeaconBlock, SyncCommittee
from stakepool.chain.types import CommitteeIndex, Root, Slot, ValidatorIndex
from stakepool.monitor.attestations import (
    AttesterDutyRef,
    CanonicalChain,
    evaluate_attestations,
    inclusion_block,
)
from stakepool.monitor.events import ProposalVerdict
from stakepool.monitor.proposals import ProposerDutyRef, judge_proposal
from stakepool.monitor.sync import SyncEpochTally, seats_from_committee
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.routes_blocks import header_json
from stakepool.sim.scenario import LateVotes, Offline, SimScenario, WrongVotes

EPOCH = 2
SCENARIO = SimScenario(
    offline=(Offline((0, 4)),),
    late_votes=(LateVotes((5, 9), delay=2), LateVotes((10, 12), delay=4)),
    wrong_votes=(WrongVotes((13, 17), "head"), WrongVotes((18, 22), "target")),
    missed_slots=frozenset({EPOCH * 8 + 3, (EPOCH + 1) * 8 + 1}),
    orphaned_slots=frozenset({EPOCH * 8 + 5}),
    sync_offline=(Offline((30, 63)),),
)


@pytest.fixture(scope="module")
def sim() -> SimChain:
    chain = SimChain(SimConfig(validators=64, scenario=SCENARIO, genesis_time=0))
    chain.advance_epochs(EPOCH + 3)
    return chain


def canonical_block(sim: SimChain, slot: int) -> SignedBeaconBlock | None:
    record = next((b for b in sim.blocks_at_slot(slot) if b.canonical), None)
    return None if record is None else SignedBeaconBlock.model_validate(record.signed(blinded=True))


def test_attestation_flags_match_the_simulators_participation(sim: SimChain) -> None:
    p = sim.params
    spe = p.slots_per_epoch
    committees = sim.committees(EPOCH)
    duties = [
        AttesterDutyRef(ValidatorIndex(int(v)), Slot(slot), CommitteeIndex(ci), len(members), pos)
        for slot in range(EPOCH * spe, (EPOCH + 1) * spe)
        for ci in range(committees.per_slot)
        for members in [committees.committee(slot - EPOCH * spe, ci)]
        for pos, v in enumerate(members.tolist())
    ]
    blocks = [
        inclusion_block(b)
        for s in range(EPOCH * spe + 1, (EPOCH + 2) * spe)
        if (b := canonical_block(sim, s)) is not None
    ]
    roots = {s: Root(sim.block_root_at_slot(s)) for s in range(EPOCH * spe - 1, (EPOCH + 2) * spe)}
    start = sim.state_at_slot(EPOCH * spe)
    assert start is not None
    justified = Checkpoint.model_validate(
        {"epoch": str(start.current_justified.epoch), "root": start.current_justified.root}
    )
    outcomes = evaluate_attestations(
        EPOCH,
        duties,
        blocks,
        chain=CanonicalChain(roots, Slot(EPOCH * spe - 1)),
        justified=justified,
        committee_lengths={},  # every committee holds a pool member here: duties give all lengths
        slots_per_epoch=spe,
        max_committees_per_slot=p.max_committees_per_slot,
    )
    end = sim.state_at_slot((EPOCH + 2) * spe - 1)
    assert end is not None
    ours = {
        o.validator_index: o.timely_source * 1 + o.timely_target * 2 + o.timely_head * 4
        for o in outcomes
    }
    theirs = {ValidatorIndex(v): int(end.previous_participation[v]) for v in range(64)}
    assert ours == theirs
    # The scenario shows up as an operator would read it.
    by_v = {o.validator_index: o for o in outcomes}
    assert not any(by_v[ValidatorIndex(v)].included for v in range(5))  # offline
    assert all(by_v[ValidatorIndex(v)].timely_target for v in range(5, 13))  # late but counted
    assert not any(by_v[ValidatorIndex(v)].timely_head for v in range(5, 23))
    assert not any(by_v[ValidatorIndex(v)].correct_target for v in range(18, 23))


def test_missed_and_orphaned_proposals_match_the_scenario(sim: SimChain) -> None:
    spe = sim.params.slots_per_epoch
    verdicts = {}
    for slot in range(EPOCH * spe, (EPOCH + 1) * spe):
        proposer = sim.proposers(EPOCH)
        assert proposer is not None
        duty = ProposerDutyRef(ValidatorIndex(int(proposer[slot - EPOCH * spe])), Slot(slot))
        headers = [HeaderInfo.model_validate(header_json(b)) for b in sim.blocks_at_slot(slot)]
        verdicts[slot] = judge_proposal(duty, headers, sim.head_slot).verdict
    assert verdicts.pop(EPOCH * spe + 3) is ProposalVerdict.MISSED
    assert verdicts.pop(EPOCH * spe + 5) is ProposalVerdict.ORPHANED
    assert set(verdicts.values()) == {ProposalVerdict.PROPOSED}


def test_sync_participation_of_offline_members_is_zero(sim: SimChain) -> None:
    spe = sim.params.slots_per_epoch
    committee = sim.sync_committee(EPOCH)
    assert committee is not None
    seats = seats_from_committee(
        SyncCommittee.model_validate(
            {"validators": [str(v) for v in committee.tolist()], "validator_aggregates": []}
        ),
        range(64),
    )
    tally = SyncEpochTally(
        EPOCH, seats, slots_per_epoch=spe, committee_size=sim.params.sync_committee_size
    )
    for s in range(EPOCH * spe, (EPOCH + 1) * spe):
        b = canonical_block(sim, s)
        if b is not None:
            tally.add_block(b)
    summary = tally.summary()
    assert summary.blocks == spe - 2  # one missed, one orphaned slot
    for v, part in summary.per_validator.items():
        assert part.total == len(seats[v]) * summary.blocks
        silent = v >= 30 or v <= 4  # sync-offline, or offline altogether
        assert part.signed == (0 if silent else part.total), v
