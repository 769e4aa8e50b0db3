"""Attester duty outcomes from canonical blocks: inclusion, delay, correctness, timely flags."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.beacon.models import Attestation, Committee
from stakepool.chain.types import CommitteeIndex, Root, Slot, ValidatorIndex
from stakepool.monitor.attestations import (
    AttestationDecodeError,
    AttestationOutcome,
    AttesterDutyRef,
    CanonicalChain,
    ChainRootUnknown,
    CommitteeLengthUnknown,
    InclusionBlock,
    committee_lengths_from_committees,
    committee_slices,
    duty_refs,
    evaluate_attestations,
    inclusion_block,
    slots_needing_committees,
)
from tests.unit.monitor.builders import (
    att_data,
    attester_duty,
    block,
    checkpoint,
    electra_attestation,
    phase0_attestation,
    root,
)

SPE = 32
EPOCH = 10
START = EPOCH * SPE  # 320
JUSTIFIED = (9, 900)
EMPTY = {323, 324}  # slots without a canonical block
CHAIN = CanonicalChain(
    {s: Root(root(5000 + s)) for s in range(START - 1, START + 2 * SPE) if s not in EMPTY},
    complete_from=Slot(START - 1),
)
TARGET = (EPOCH, 5000 + START)


def duty(
    v: int, slot: int = 321, committee: int = 1, length: int = 4, pos: int = 0
) -> AttesterDutyRef:
    return AttesterDutyRef(ValidatorIndex(v), Slot(slot), CommitteeIndex(committee), length, pos)


def vote(
    slot: int = 321, head: int | None = None, target: tuple[int, int] = TARGET
) -> dict[str, object]:
    return att_data(slot, 5000 + slot if head is None else head, JUSTIFIED, target)


def run(
    duties: list[AttesterDutyRef],
    blocks: list[InclusionBlock],
    lengths: dict[tuple[int, int], int] | None = None,
) -> list[AttestationOutcome]:
    return evaluate_attestations(
        EPOCH,
        duties,
        blocks,
        chain=CHAIN,
        justified=checkpoint(*JUSTIFIED),
        committee_lengths=lengths or {},
        slots_per_epoch=SPE,
    )


def at(slot: int, *atts: Attestation) -> InclusionBlock:
    return InclusionBlock(Slot(slot), atts)


def test_vote_included_next_slot_earns_all_three_flags() -> None:
    [o] = run([duty(7, pos=2)], [at(322, electra_attestation(vote(), [(1, [0, 0, 1, 0])]))])
    assert o.included
    assert o.inclusion_delay == 1
    assert (o.correct_source, o.correct_target, o.correct_head) == (True, True, True)
    assert (o.timely_source, o.timely_target, o.timely_head) == (True, True, True)


def test_vote_included_at_delay_2_gets_source_and_target_but_not_head() -> None:
    [o] = run([duty(7)], [at(323, electra_attestation(vote(), [(1, [1, 0, 0, 0])]))])
    assert o.inclusion_delay == 2
    assert o.correct_head  # the vote itself was right …
    assert (o.timely_source, o.timely_target, o.timely_head) == (True, True, False)  # … but late


def test_vote_included_after_isqrt_slots_keeps_only_target() -> None:
    [o] = run([duty(7)], [at(321 + 6, electra_attestation(vote(), [(1, [1, 0, 0, 0])]))])
    assert o.inclusion_delay == 6  # isqrt(32) = 5
    assert (o.timely_source, o.timely_target, o.timely_head) == (False, True, False)
    [o5] = run([duty(7)], [at(321 + 5, electra_attestation(vote(), [(1, [1, 0, 0, 0])]))])
    assert o5.timely_source


def test_wrong_head_at_delay_1_loses_head_only() -> None:
    [o] = run([duty(7)], [at(322, electra_attestation(vote(head=42), [(1, [1, 0, 0, 0])]))])
    assert (o.correct_source, o.correct_target, o.correct_head) == (True, True, False)
    assert (o.timely_source, o.timely_target, o.timely_head) == (True, True, False)


def test_head_vote_for_an_empty_slot_names_the_last_block_before_it() -> None:
    # Slot 324 is empty (and so is 323): the right head is the block at 322.
    [o] = run(
        [duty(7, slot=324)],
        [at(325, electra_attestation(vote(324, head=5000 + 322), [(1, [1, 0, 0, 0])]))],
    )
    assert o.correct_head
    assert o.timely_head


def test_wrong_target_loses_target_and_head() -> None:
    [o] = run(
        [duty(7)], [at(322, electra_attestation(vote(target=(EPOCH, 1)), [(1, [1, 0, 0, 0])]))]
    )
    assert (o.correct_source, o.correct_target, o.correct_head) == (True, False, False)
    assert (o.timely_source, o.timely_target, o.timely_head) == (True, False, False)


def test_validator_whose_bit_is_clear_is_missed_though_its_committee_was_included() -> None:
    a = electra_attestation(vote(), [(1, [1, 0, 1, 1])])
    ok, missed = run([duty(7, pos=0), duty(8, pos=1)], [at(322, a)])
    assert ok.included
    assert not missed.included
    assert missed.inclusion_delay is None
    assert not (missed.correct_source)
    assert not (missed.timely_source)
    assert not (missed.timely_target)
    assert not (missed.timely_head)


def test_earliest_of_several_inclusions_counts() -> None:
    late = at(330, electra_attestation(vote(), [(1, [1, 0, 0, 0])]))
    early = at(323, electra_attestation(vote(), [(1, [1, 1, 0, 0])]))
    [o] = run([duty(7)], [late, early])  # order of blocks does not matter
    assert o.inclusion_slot == 323


def test_inclusion_after_the_next_epoch_does_not_count() -> None:
    [o] = run([duty(7)], [at(START + 2 * SPE, electra_attestation(vote(), [(1, [1, 0, 0, 0])]))])
    assert not o.included
    [o] = run(
        [duty(7)], [at(START + 2 * SPE - 1, electra_attestation(vote(), [(1, [1, 0, 0, 0])]))]
    )
    assert o.included
    assert o.timely_target
    assert not o.timely_source


def test_same_slot_or_other_epoch_votes_are_ignored() -> None:
    same_slot = at(321, electra_attestation(vote(), [(1, [1, 0, 0, 0])]))
    other_epoch = at(
        322, electra_attestation(att_data(321, 1, JUSTIFIED, (EPOCH + 1, 1)), [(1, [1, 0, 0, 0])])
    )
    [o] = run([duty(7)], [same_slot, other_epoch])
    assert not o.included


def test_our_committee_after_another_uses_its_length() -> None:
    # Committees 0 (length 3, not ours) and 2 (ours, length 4): our bit is at offset 3 + pos.
    a = electra_attestation(vote(), [(0, [1, 1, 1]), (2, [0, 1, 0, 0])])
    with_pos1, with_pos0 = run(
        [duty(7, committee=2, pos=1), duty(8, committee=2, pos=0)], [at(322, a)], {(321, 0): 3}
    )
    assert with_pos1.included
    assert not with_pos0.included


def test_single_unknown_length_is_inferred_from_the_total() -> None:
    a = electra_attestation(vote(), [(0, [1, 1, 1]), (2, [0, 1, 0, 0])])
    first, second = run([duty(7, committee=2, pos=1), duty(8, committee=2, pos=0)], [at(322, a)])
    assert first.included
    assert not second.included


def test_two_unknown_lengths_before_ours_raise_a_typed_error() -> None:
    a = electra_attestation(vote(), [(0, [1, 1, 1]), (1, [1, 1]), (2, [0, 1, 0, 0])])
    with pytest.raises(CommitteeLengthUnknown) as err:
        run([duty(7, committee=2, pos=1)], [at(322, a)])
    assert (err.value.slot, err.value.committee_index) == (321, 0)
    [o] = run([duty(7, committee=2, pos=1)], [at(322, a)], {(321, 0): 3, (321, 1): 2})
    assert o.included


def test_unknown_lengths_after_ours_are_not_needed() -> None:
    a = electra_attestation(vote(), [(0, [0, 1, 0, 0]), (5, [1, 1]), (6, [1, 1, 1])])
    [o] = run([duty(7, committee=0, pos=1)], [at(322, a)])
    assert o.included


def test_inconsistent_lengths_are_rejected() -> None:
    a = electra_attestation(vote(), [(0, [1, 1, 1]), (1, [0, 1, 0, 0])])
    with pytest.raises(AttestationDecodeError, match="committees hold"):
        run([duty(7, committee=1, pos=1)], [at(322, a)], {(321, 0): 2})


def test_pre_electra_aggregate_covers_the_committee_in_data_index() -> None:
    a = phase0_attestation(att_data(321, 5000 + 321, JUSTIFIED, TARGET, index=3), [0, 1, 0, 0])
    ours, other_committee = run(
        [duty(7, committee=3, pos=1), duty(8, committee=1, pos=1)], [at(322, a)]
    )
    assert ours.included
    assert ours.timely_head
    assert not other_committee.included


def test_duty_lengths_win_over_a_committees_answer_that_disagrees() -> None:
    # A committees endpoint with swapped fields (stock Lodestar v1.5.1) gives wrong lengths: the
    # duties' own length of our committee is the one used to find our bit.
    a = electra_attestation(vote(), [(0, [1, 1, 1]), (2, [0, 1, 0, 0])])
    [o] = run([duty(7, committee=2, pos=1)], [at(322, a)], {(321, 0): 3, (321, 2): 2})
    assert o.included


def test_wire_conversions() -> None:
    [d] = duty_refs([attester_duty(7, 321, 1, 4, 2)])
    assert d == duty(7, pos=2)
    a = electra_attestation(vote(), [(1, [0, 0, 1, 0])])
    b = inclusion_block(block(322, attestations=[a]))
    assert b == at(322, a)
    [o] = run([d], [b])
    assert o.timely_head


def test_committee_lengths_from_committees_endpoint() -> None:
    c = Committee.model_validate({"index": "2", "slot": "321", "validators": ["1", "2", "3"]})
    assert committee_lengths_from_committees([c]) == {(321, 2): 3}


def test_chain_root_lookup_refuses_slots_it_does_not_cover() -> None:
    assert CHAIN.root_at(324) == root(5000 + 322)
    with pytest.raises(ChainRootUnknown):
        CHAIN.root_at(START - 2)
    with pytest.raises(ChainRootUnknown):
        CanonicalChain({}, Slot(0)).root_at(5)


def test_duties_of_another_epoch_are_rejected() -> None:
    with pytest.raises(ValueError, match="not in epoch"):
        run([duty(7, slot=START - 1)], [])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_electra_aggregates_decode_to_who_signed(data: st.DataObject) -> None:
    n_committees = data.draw(st.integers(1, 8))
    lengths = data.draw(st.lists(st.integers(1, 12), min_size=n_committees, max_size=n_committees))
    selected = sorted(data.draw(st.sets(st.integers(0, n_committees - 1), min_size=1)))
    bits = {
        c: data.draw(st.lists(st.booleans(), min_size=lengths[c], max_size=lengths[c]))
        for c in selected
    }
    a = electra_attestation(vote(), [(c, bits[c]) for c in selected], max_committees=8)
    all_lengths = {(321, c): lengths[c] for c in range(n_committees)}
    needed = data.draw(st.sets(st.sampled_from(selected)))
    got = committee_slices(a, all_lengths, needed, max_committees_per_slot=8)
    assert got == {c: bits[c] for c in needed}
    # Every member of every selected committee: included exactly when its bit is set.
    duties = [
        duty(100 * c + p, committee=c, length=lengths[c], pos=p)
        for c in selected
        for p in range(lengths[c])
    ]
    outcomes = evaluate_attestations(
        EPOCH,
        duties,
        [at(322, a)],
        chain=CHAIN,
        justified=checkpoint(*JUSTIFIED),
        committee_lengths=all_lengths,
        slots_per_epoch=SPE,
        max_committees_per_slot=8,
    )
    assert [o.included for o in outcomes] == [
        bits[c][p] for c in selected for p in range(lengths[c])
    ]


def test_slots_needing_committees_lists_exactly_the_undecodable_slots() -> None:
    hard = electra_attestation(vote(), [(0, [1, 1, 1]), (1, [1, 1]), (2, [0, 1, 0, 0])])
    easy = electra_attestation(vote(322), [(2, [0, 1, 0, 0]), (3, [1])])
    duties = [duty(7, committee=2, pos=1), duty(8, slot=322, committee=2, pos=1)]
    blocks = [at(322, hard), at(323, easy)]
    assert slots_needing_committees(EPOCH, duties, blocks, {}, slots_per_epoch=SPE) == [321]
    assert slots_needing_committees(EPOCH, duties, blocks, {(321, 0): 3}, slots_per_epoch=SPE) == []
