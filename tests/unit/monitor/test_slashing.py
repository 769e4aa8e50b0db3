"""One critical alert per slashed validator across every source; stages; exits and BLS changes."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.beacon.models import AttesterSlashing, ProposerSlashing
from stakepool.chain.types import ValidatorIndex
from stakepool.monitor.events import (
    EventKind,
    OperationSource,
    Severity,
    SlashingEvidence,
    SlashingSource,
    SlashingStage,
    SlashingStageReached,
    UnexpectedBlsChange,
    UnexpectedExit,
    ValidatorSlashed,
)
from stakepool.monitor.slashing import (
    SlashingWatch,
    attester_slashing_indices,
    proposer_slashing_index,
)
from stakepool.monitor.status import StatusTracker
from tests.unit.monitor.builders import (
    attester_slashing,
    block,
    bls_change,
    proposer_slashing,
    validator_info,
    voluntary_exit,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "beacon"
OURS = [5, 6, 7]


def watch(**kw: object) -> SlashingWatch:
    return SlashingWatch(OURS, slots_per_epoch=32, **kw)


def critical(events: list[object]) -> list[object]:
    return [e for e in events if e.severity is Severity.CRITICAL]


def test_affected_indices_are_the_sorted_intersection_filtered_to_ours() -> None:
    s = attester_slashing([9, 7, 5, 1], [1, 5, 7, 8])
    assert attester_slashing_indices(s) == (1, 5, 7)
    assert attester_slashing_indices(s, OURS) == (5, 7)
    assert proposer_slashing_index(proposer_slashing(6)) == 6


def test_same_slashing_on_sse_in_the_pool_and_in_a_block_gives_one_critical_alert() -> None:
    w = watch()
    s = attester_slashing([5, 100], [5, 100])
    first = w.on_attester_slashing(s, SlashingSource.SSE, epoch=10)
    assert first == [
        SlashingEvidence(
            validator_index=ValidatorIndex(5),
            epoch=10,
            source=SlashingSource.SSE,
            offence="attester",
        )
    ]
    assert w.on_attester_slashing(s, SlashingSource.POOL, epoch=10) == []
    included = w.on_block(block(11 * 32 + 3, attester_slashings=[s]))
    assert included == [
        SlashingStageReached(
            validator_index=ValidatorIndex(5),
            epoch=11,
            stage=SlashingStage.INCLUDED,
            source=SlashingSource.BLOCK,
        )
    ]
    assert w.on_validator(validator_info(5, "active_slashed", slashed=True), epoch=11) == []
    finalized = w.on_finalized(12)
    assert [(e.kind, e.stage) for e in finalized if isinstance(e, SlashingStageReached)] == [
        (EventKind.SLASHING_STAGE, SlashingStage.FINALIZED)
    ]
    assert w.on_finalized(13) == []
    assert len(critical(first + included + finalized)) == 1


def test_finality_waits_for_the_inclusion_epoch_to_be_final() -> None:
    w = watch()
    w.on_block(block(11 * 32, proposer_slashings=[proposer_slashing(6)]))
    assert w.on_finalized(11) == []
    assert [e.kind for e in w.on_finalized(12)] == [EventKind.SLASHING_STAGE]
    assert w.stage(6) is SlashingStage.FINALIZED


def test_slashing_first_seen_in_the_validator_record_is_a_validator_slashed_alert() -> None:
    w = watch()
    [ev] = w.on_validator(validator_info(7, "active_slashed", slashed=True), epoch=20)
    assert isinstance(ev, ValidatorSlashed)
    assert (ev.source, ev.offence, ev.severity) == (
        SlashingSource.STATE,
        "unknown",
        Severity.CRITICAL,
    )
    # A late pool sighting of the same evidence is not a new alert and does not move the stage back.
    assert w.on_proposer_slashing(proposer_slashing(7), SlashingSource.POOL, 20) == []
    assert w.stage(7) is SlashingStage.INCLUDED
    assert w.state.slashings[ValidatorIndex(7)].offence == "proposer"


def test_unslashed_records_and_other_validators_are_ignored() -> None:
    w = watch()
    assert w.on_validator(validator_info(5), epoch=3) == []
    assert w.on_validator(validator_info(99, slashed=True), epoch=3) == []
    assert w.on_attester_slashing(attester_slashing([1, 2], [2, 3]), SlashingSource.SSE, 3) == []
    assert w.on_proposer_slashing(proposer_slashing(99), SlashingSource.SSE, 3) == []


def test_one_slashing_of_several_pool_validators_alerts_each_once() -> None:
    w = watch()
    s = attester_slashing([5, 6, 7], [5, 6, 7])
    ev = w.on_attester_slashing(s, SlashingSource.POOL, 3) + w.on_attester_slashing(
        s, SlashingSource.SSE, 3
    )
    assert [e.validator_index for e in critical(ev)] == [5, 6, 7]


def test_event_id_is_the_same_for_the_same_validator_whatever_the_source() -> None:
    a = SlashingEvidence(
        validator_index=ValidatorIndex(5), epoch=1, source=SlashingSource.SSE, offence="attester"
    )
    b = SlashingEvidence(
        validator_index=ValidatorIndex(5), epoch=2, source=SlashingSource.POOL, offence="attester"
    )
    assert a.event_id == b.event_id


def test_restart_with_state_keeps_the_alert_single() -> None:
    w = watch()
    w.on_attester_slashing(attester_slashing([5], [5]), SlashingSource.SSE, 3)
    again = watch(state=w.state)
    ev = again.on_validator(validator_info(5, "active_slashed", slashed=True), 4)
    assert [e.kind for e in ev] == [EventKind.SLASHING_STAGE]  # progress, not a second alert
    assert again.on_validator(validator_info(5, "active_slashed", slashed=True), 5) == []


def test_unexpected_exit_and_bls_change_are_critical_once() -> None:
    w = watch(expected_exits=[6], expected_bls_changes=[7])
    ev = w.on_voluntary_exit(voluntary_exit(5, epoch=40), OperationSource.SSE)
    assert ev == [
        UnexpectedExit(validator_index=ValidatorIndex(5), epoch=40, source=OperationSource.SSE)
    ]
    assert w.on_voluntary_exit(voluntary_exit(5, epoch=40), OperationSource.POOL) == []
    assert w.on_voluntary_exit(voluntary_exit(6), OperationSource.SSE) == []  # declared
    assert w.on_voluntary_exit(voluntary_exit(99), OperationSource.SSE) == []  # not ours
    b = w.on_block(
        block(
            41 * 32,
            bls_to_execution_changes=[bls_change(5), bls_change(7)],
            voluntary_exits=[voluntary_exit(5)],
        )
    )
    assert len(b) == 1
    change = b[0]
    assert isinstance(change, UnexpectedBlsChange)
    assert (change.validator_index, change.epoch, change.source) == (5, 41, OperationSource.BLOCK)
    assert change.severity is Severity.CRITICAL


def test_declarations_can_change() -> None:
    w = watch()
    w.set_pool([5, 8], expected_exits=[8])
    assert w.on_voluntary_exit(voluntary_exit(8), OperationSource.SSE) == []
    assert w.on_voluntary_exit(voluntary_exit(6), OperationSource.SSE) == []  # left the pool


def test_fixture_pool_slashings() -> None:
    body = json.loads((FIXTURES / "pool_attester_slashings.json").read_text())["response"]["body"]
    s = AttesterSlashing.model_validate(body["data"][0])
    affected = attester_slashing_indices(s)
    assert affected == tuple(sorted(s.slashed_indices))
    body = json.loads((FIXTURES / "pool_proposer_slashings.json").read_text())["response"]["body"]
    p = ProposerSlashing.model_validate(body["data"][0])
    w = SlashingWatch([proposer_slashing_index(p)], slots_per_epoch=32)
    assert len(w.on_proposer_slashing(p, SlashingSource.POOL, 1)) == 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(SlashingSource)), st.integers(0, 3), st.integers(0, 9)),
        max_size=25,
    )
)
def test_any_sequence_of_sightings_alerts_at_most_once_per_validator(
    sightings: list[tuple[SlashingSource, int, int]],
) -> None:
    w = watch()
    events = []
    for source, kind, v in sightings:
        if source is SlashingSource.STATE:
            events += w.on_validator(validator_info(v, "active_slashed", slashed=True), 5)
        elif kind == 0:
            events += w.on_proposer_slashing(proposer_slashing(v), source, 5)
        else:
            events += w.on_attester_slashing(attester_slashing([v], [v]), source, 5)
        events += w.on_finalized(kind + 4)
    alerted = [e.validator_index for e in critical(events)]
    assert sorted(alerted) == sorted({v for _, _, v in sightings if v in OURS})
    stages = [(e.validator_index, e.stage) for e in events if isinstance(e, SlashingStageReached)]
    assert len(stages) == len(set(stages))


def test_status_tracker_and_slashing_watch_fed_the_same_records_alert_once() -> None:
    status, w = StatusTracker(), watch()
    events = []
    for epoch, info in enumerate(
        [
            validator_info(5),
            validator_info(5, "active_slashed", slashed=True),
            validator_info(5, "exited_slashed", slashed=True),
        ]
    ):
        events += status.observe(epoch, [info]) + w.on_validator(info, epoch)
    assert [e.kind for e in critical(events)] == [EventKind.VALIDATOR_SLASHED]
    assert [e.kind for e in events].count(EventKind.STATUS_CHANGED) == 2
