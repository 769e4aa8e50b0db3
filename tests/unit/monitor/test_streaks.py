"""Consecutive missed attestations raise one warning at the threshold and one recovery."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.chain.types import CommitteeIndex, Epoch, Slot, ValidatorIndex
from stakepool.monitor.attestations import AttestationOutcome
from stakepool.monitor.events import (
    AttestationMissed,
    AttestationRecovered,
    AttestationStreak,
    EventKind,
)
from stakepool.monitor.streaks import MissedStreaks


def outcome(v: int, epoch: int, included: bool) -> AttestationOutcome:
    slot = epoch * 32 + 3
    return AttestationOutcome(
        ValidatorIndex(v),
        Epoch(epoch),
        Slot(slot),
        CommitteeIndex(0),
        Slot(slot + 1) if included else None,
        included,
        included,
        included,
        included,
        included,
        included,
    )


def kinds(events: list[object]) -> list[str]:
    return [e.kind.value for e in events]


def test_streak_alerts_once_when_it_reaches_the_threshold_then_recovers() -> None:
    t = MissedStreaks(threshold=2)
    assert kinds(t.observe(10, [outcome(1, 10, False)])) == ["attestation_missed"]
    ev = t.observe(11, [outcome(1, 11, False)])
    assert kinds(ev) == ["attestation_missed", "attestation_streak"]
    streak = ev[1]
    assert isinstance(streak, AttestationStreak)
    assert (streak.streak, streak.first_missed_epoch, streak.epoch) == (2, 10, 11)
    assert kinds(t.observe(12, [outcome(1, 12, False)])) == ["attestation_missed"]  # no re-alert
    assert t.streak(1) == 3
    ev = t.observe(13, [outcome(1, 13, True)])
    assert ev == [
        AttestationRecovered(validator_index=ValidatorIndex(1), epoch=Epoch(13), missed=3)
    ]
    assert t.streak(1) == 0


def test_a_single_miss_below_the_threshold_ends_silently() -> None:
    t = MissedStreaks(threshold=2)
    t.observe(10, [outcome(1, 10, False)])
    assert t.observe(11, [outcome(1, 11, True)]) == []
    assert kinds(t.observe(12, [outcome(1, 12, False)])) == ["attestation_missed"]  # restarts at 1


def test_feeding_the_same_epoch_twice_changes_nothing() -> None:
    t = MissedStreaks(threshold=2)
    t.observe(10, [outcome(1, 10, False)])
    first = t.observe(11, [outcome(1, 11, False)])
    assert t.observe(11, [outcome(1, 11, False)]) == []
    assert t.observe(10, [outcome(1, 10, True)]) == []  # an older epoch does not reset it
    assert t.streak(1) == 2
    assert len(first) == 2


def test_state_round_trip_survives_a_restart_without_duplicate_alerts() -> None:
    t = MissedStreaks(threshold=3)
    t.observe(10, [outcome(1, 10, False), outcome(2, 10, True)])
    t.observe(11, [outcome(1, 11, False)])
    restarted = MissedStreaks(threshold=3, state=t.state)
    assert restarted.observe(11, [outcome(1, 11, False)]) == []
    assert kinds(restarted.observe(12, [outcome(1, 12, False)])) == [
        "attestation_missed",
        "attestation_streak",
    ]


def test_validators_are_independent_and_events_carry_coordinates() -> None:
    t = MissedStreaks(threshold=1)
    ev = t.observe(10, [outcome(2, 10, False), outcome(1, 10, True)])
    assert kinds(ev) == ["attestation_missed", "attestation_streak"]
    missed = ev[0]
    assert isinstance(missed, AttestationMissed)
    assert (missed.validator_index, missed.epoch, missed.slot, missed.streak) == (2, 10, 323, 1)
    assert missed.kind is EventKind.ATTESTATION_MISSED


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MissedStreaks(threshold=0)
    with pytest.raises(ValueError, match="fed as epoch"):
        MissedStreaks(threshold=2).observe(11, [outcome(1, 10, False)])


@given(st.lists(st.booleans(), max_size=40), st.integers(1, 4))
def test_alerts_match_runs_of_misses(included: list[bool], threshold: int) -> None:
    t = MissedStreaks(threshold=threshold)
    events = []
    for epoch, ok in enumerate(included):
        events += t.observe(epoch, [outcome(1, epoch, ok)])
        events += t.observe(epoch, [outcome(1, epoch, ok)])  # fed twice: no effect
    runs = [len(r) for r in "".join("x" if ok else "m" for ok in included).split("x") if r]
    ended = [len(r) for r in "".join("x" if ok else "m" for ok in included).split("x")[:-1] if r]
    assert kinds(events).count("attestation_missed") == included.count(False)
    assert kinds(events).count("attestation_streak") == sum(r >= threshold for r in runs)
    assert kinds(events).count("attestation_recovered") == sum(r >= threshold for r in ended)
