"""Sync-committee participation: per seat, per block, per epoch; empty slots count nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.beacon.models import SyncCommittee, SyncDuty
from stakepool.chain.bitfields import encode_bitvector
from stakepool.chain.types import ValidatorIndex
from stakepool.monitor.events import SyncParticipationLow
from stakepool.monitor.sync import (
    SyncEpochTally,
    SyncParticipation,
    low_participation_events,
    seats_from_committee,
    seats_from_duties,
    slot_participation,
)
from tests.unit.monitor.builders import block

FIXTURES = Path(__file__).parents[2] / "fixtures" / "beacon"
SIZE = 16
# Validator 5 holds two seats (2 and 9), validator 6 one (4).
SEATS = {ValidatorIndex(5): (2, 9), ValidatorIndex(6): (4,)}


def bits(signed: set[int]) -> str:
    return encode_bitvector([i in signed for i in range(SIZE)])


def test_a_validator_with_two_seats_counts_each() -> None:
    p = slot_participation(bits({2, 4}), SEATS, SIZE)
    assert p == {5: SyncParticipation(1, 2), 6: SyncParticipation(1, 1)}


def test_epoch_tally_counts_only_slots_with_a_block() -> None:
    t = SyncEpochTally(3, SEATS, slots_per_epoch=8, committee_size=SIZE)
    t.add_block(block(24, sync_bits=bits({2, 9, 4})))
    t.add_block(block(25, sync_bits=bits({2})))  # 5 half-signs, 6 is offline
    # Slots 26..31 have no block: nobody is counted as missing them.
    s = t.summary()
    assert s.blocks == 2
    assert s.per_validator[ValidatorIndex(5)] == SyncParticipation(3, 4)
    assert s.per_validator[ValidatorIndex(6)] == SyncParticipation(1, 2)
    assert s.pool == SyncParticipation(4, 6)
    assert s.per_validator[ValidatorIndex(6)].ratio == 0.5


def test_epoch_without_blocks_has_no_ratio_and_no_alert() -> None:
    t = SyncEpochTally(3, SEATS, slots_per_epoch=8, committee_size=SIZE)
    t.add_block(block(26))  # a block without sync aggregate (pre-Altair shape)
    s = t.summary()
    assert s.blocks == 0
    assert s.pool.ratio is None
    assert low_participation_events(s, 0.8) == []


def test_same_block_twice_is_counted_once() -> None:
    t = SyncEpochTally(3, SEATS, slots_per_epoch=8, committee_size=SIZE)
    b = block(24, sync_bits=bits({2}))
    t.add_block(b)
    t.add_block(b)
    assert t.summary().pool == SyncParticipation(1, 3)


def test_seat_beyond_the_committee_is_refused() -> None:
    with pytest.raises(ValueError, match="outside a committee"):
        slot_participation(bits(set()), {ValidatorIndex(1): (SIZE,)}, SIZE)


def test_slot_outside_the_epoch_is_refused() -> None:
    t = SyncEpochTally(3, SEATS, slots_per_epoch=8, committee_size=SIZE)
    with pytest.raises(ValueError, match="not in epoch"):
        t.add_aggregate(32, bits(set()))


def test_offline_member_raises_a_low_participation_warning() -> None:
    t = SyncEpochTally(3, SEATS, slots_per_epoch=8, committee_size=SIZE)
    for slot in range(24, 32):
        t.add_aggregate(slot, bits({2, 9}))  # 6 never signs
    ev = low_participation_events(t.summary(), 0.8)
    assert ev == [
        SyncParticipationLow(validator_index=ValidatorIndex(6), epoch=3, signed=0, total=8)
    ]


def test_seats_from_duties_and_committee_agree() -> None:
    body = json.loads((FIXTURES / "sync_duties.json").read_text())["response"]["body"]
    duties = [SyncDuty.model_validate(d) for d in body["data"]]
    assert seats_from_duties(duties) == {12: (17, 301)}
    committee = SyncCommittee.model_validate(
        {
            "validators": ["1", "5", "7", "5", "6"],
            "validator_aggregates": [["1", "5"], ["7", "5", "6"]],
        }
    )
    assert seats_from_committee(committee, [5, 6, 99]) == {5: (1, 3), 6: (4,)}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=SIZE, max_size=SIZE),
    st.lists(st.booleans(), min_size=SIZE, max_size=SIZE),
)
def test_random_committees_count_every_seat_once(members: list[int], signed: list[bool]) -> None:
    committee = SyncCommittee.model_validate(
        {"validators": [str(m) for m in members], "validator_aggregates": []}
    )
    seats = seats_from_committee(committee, range(3))
    got = slot_participation(encode_bitvector(signed), seats, SIZE)
    for v in range(3):
        held = [p for p, m in enumerate(members) if m == v]
        if not held:
            assert v not in got
            continue
        assert got[ValidatorIndex(v)] == SyncParticipation(sum(signed[p] for p in held), len(held))
