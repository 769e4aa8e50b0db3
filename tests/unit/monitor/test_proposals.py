"""Proposal verdicts: proposed, missed, orphaned, pending, wrong proposer; revisions at finality."""

from __future__ import annotations

import json
from pathlib import Path

from stakepool.beacon.models import HeaderInfo, ProposerDuty
from stakepool.chain.types import Slot, ValidatorIndex
from stakepool.monitor.events import (
    BlockMissed,
    BlockOrphaned,
    BlockProposed,
    EventKind,
    ProposalChanged,
    ProposalVerdict,
    ProposerMismatch,
)
from stakepool.monitor.proposals import (
    ProposalTracker,
    ProposerDutyRef,
    judge_proposal,
    proposer_duty_refs,
)
from tests.unit.monitor.builders import header_info, root

FIXTURES = Path(__file__).parents[2] / "fixtures" / "beacon"
OURS = ValidatorIndex(42)
DUTY = ProposerDutyRef(OURS, Slot(100))


def test_canonical_block_by_us_is_proposed() -> None:
    o = judge_proposal(DUTY, [header_info(100, 42, 1, canonical=True)], current_slot=101)
    assert o.verdict is ProposalVerdict.PROPOSED
    assert o.root == root(1)


def test_empty_slot_is_missed() -> None:
    assert judge_proposal(DUTY, [], current_slot=101).verdict is ProposalVerdict.MISSED


def test_our_non_canonical_block_is_orphaned_not_missed() -> None:
    headers = [header_info(100, 42, 5, canonical=False)]
    o = judge_proposal(DUTY, headers, current_slot=102)
    assert o.verdict is ProposalVerdict.ORPHANED
    assert o.root == root(5)


def test_someone_elses_orphan_at_our_slot_is_still_our_miss() -> None:
    o = judge_proposal(DUTY, [header_info(100, 7, 5, canonical=False)], current_slot=102)
    assert o.verdict is ProposalVerdict.MISSED


def test_slot_not_yet_past_is_pending() -> None:
    assert judge_proposal(DUTY, [], current_slot=100).verdict is ProposalVerdict.PENDING


def test_canonical_block_by_another_proposer_means_duties_changed() -> None:
    o = judge_proposal(DUTY, [header_info(100, 9, 1, canonical=True)], current_slot=101)
    assert o.verdict is ProposalVerdict.WRONG_PROPOSER
    assert o.actual_proposer == 9


def test_headers_of_other_slots_are_ignored() -> None:
    o = judge_proposal(DUTY, [header_info(99, 42, 1, canonical=True)], current_slot=101)
    assert o.verdict is ProposalVerdict.MISSED


def test_fixture_headers_parse_into_a_verdict() -> None:
    body = json.loads((FIXTURES / "headers_at_slot.json").read_text())["response"]["body"]
    headers = [HeaderInfo.model_validate(h) for h in body["data"]]
    duty = ProposerDutyRef(headers[0].proposer_index, headers[0].slot)
    assert judge_proposal(duty, headers, headers[0].slot + 1).verdict is ProposalVerdict.PROPOSED


def test_proposer_duties_narrowed_to_the_pool() -> None:
    body = json.loads((FIXTURES / "proposer_duties.json").read_text())["response"]["body"]
    duties = [ProposerDuty.model_validate(d) for d in body["data"]]
    mine = duties[1].validator_index
    refs = proposer_duty_refs(duties, ours={mine})
    assert refs == [ProposerDutyRef(mine, duties[1].slot)]
    assert len(proposer_duty_refs(duties)) == len(duties)


def test_tracker_reports_each_verdict_once() -> None:
    t = ProposalTracker(slots_per_epoch=32)
    assert t.update(DUTY, [], current_slot=100) == []  # pending: nothing yet
    ev = t.update(DUTY, [header_info(100, 42, 1, canonical=True)], current_slot=101)
    assert ev == [BlockProposed(validator_index=OURS, epoch=3, slot=100, root=root(1))]
    assert t.update(DUTY, [header_info(100, 42, 1, canonical=True)], current_slot=105) == []
    assert t.verdict(100) is ProposalVerdict.PROPOSED


def test_reorg_turns_a_proposal_into_an_orphan_and_says_so() -> None:
    t = ProposalTracker(slots_per_epoch=32)
    t.update(DUTY, [header_info(100, 42, 1, canonical=True)], current_slot=101)
    ev = t.update(DUTY, [header_info(100, 42, 1, canonical=False)], current_slot=103)
    assert [e.kind for e in ev] == [EventKind.PROPOSAL_CHANGED, EventKind.BLOCK_ORPHANED]
    changed = ev[0]
    assert isinstance(changed, ProposalChanged)
    assert (changed.old, changed.new, changed.final) == (
        ProposalVerdict.PROPOSED,
        ProposalVerdict.ORPHANED,
        False,
    )
    assert isinstance(ev[1], BlockOrphaned)
    assert not any(isinstance(e, BlockMissed) for e in ev)


def test_finality_recheck_can_revise_then_freezes_the_verdict() -> None:
    t = ProposalTracker(slots_per_epoch=32)
    t.update(DUTY, [], current_slot=101)  # provisional: missed (our block not seen yet)
    ev = t.update(DUTY, [header_info(100, 42, 1, canonical=True)], 200, finalized=True)
    assert [e.kind for e in ev] == [EventKind.PROPOSAL_CHANGED, EventKind.BLOCK_PROPOSED]
    assert isinstance(ev[0], ProposalChanged)
    assert ev[0].final
    assert t.update(DUTY, [], current_slot=300) == []  # final: a flaky node cannot change it
    assert t.verdict(100) is ProposalVerdict.PROPOSED


def test_confirming_at_finality_is_silent() -> None:
    t = ProposalTracker(slots_per_epoch=32)
    t.update(DUTY, [], current_slot=101)
    assert t.update(DUTY, [], current_slot=200, finalized=True) == []
    t.prune(before_slot=101)
    assert t.verdict(100) is None


def test_mismatch_event_then_forget_after_duties_reload() -> None:
    t = ProposalTracker(slots_per_epoch=32)
    ev = t.update(DUTY, [header_info(100, 9, 1, canonical=True)], current_slot=101)
    assert ev == [ProposerMismatch(validator_index=OURS, epoch=3, slot=100, actual_proposer=9)]
    t.forget(100)
    assert t.verdict(100) is None


def test_state_round_trip_avoids_duplicate_reports_after_restart() -> None:
    t = ProposalTracker(slots_per_epoch=32)
    t.update(DUTY, [], current_slot=101)
    restarted = ProposalTracker(32, state=t.state)
    assert restarted.update(DUTY, [], current_slot=102) == []
