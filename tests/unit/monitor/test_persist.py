"""Tracker state survives a JSON round trip, and a restored tracker repeats no event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from stakepool.chain.types import Slot, ValidatorIndex
from stakepool.monitor.events import OperationSource, SlashingSource
from stakepool.monitor.finality import FinalityState, FinalityWatch
from stakepool.monitor.persist import from_json, load, to_json
from stakepool.monitor.proposals import ProposalTracker, ProposerDutyRef, TrackedProposal
from stakepool.monitor.slashing import SlashingWatch, WatchState
from stakepool.monitor.status import StatusTracker, ValidatorSnapshot
from stakepool.monitor.streaks import MissedStreaks, StreakState
from tests.unit.monitor.builders import (
    attester_slashing,
    header_info,
    validator_info,
    voluntary_exit,
)
from tests.unit.monitor.test_streaks import outcome


def through_json(value: Any) -> Any:
    return json.loads(json.dumps(to_json(value)))


def test_streaks_round_trip() -> None:
    t = MissedStreaks(2)
    t.observe(3, [outcome(1, 3, False), outcome(2, 3, True)])
    state = from_json(Mapping[ValidatorIndex, StreakState], through_json(t.state))
    assert state == t.state
    again = MissedStreaks(2, state)
    assert again.observe(3, [outcome(1, 3, False)]) == []
    assert len(again.observe(4, [outcome(1, 4, False)])) == 2


def test_proposals_round_trip() -> None:
    t = ProposalTracker(32)
    duty = ProposerDutyRef(ValidatorIndex(4), Slot(70))
    t.update(duty, [header_info(70, 4, 1, canonical=False)], 71)
    state = from_json(Mapping[Slot, TrackedProposal], through_json(t.state))
    assert state == t.state
    assert (
        ProposalTracker(32, state).update(duty, [header_info(70, 4, 1, canonical=False)], 72) == []
    )


def test_status_round_trip() -> None:
    t = StatusTracker()
    t.observe(
        5, [validator_info(1, "active_exiting"), validator_info(2, credentials="0x00" + "ab" * 31)]
    )
    state = from_json(Mapping[ValidatorIndex, ValidatorSnapshot], through_json(t.state))
    assert state == t.state


def test_slashing_watch_round_trip() -> None:
    w = SlashingWatch([5, 6], slots_per_epoch=32)
    w.on_attester_slashing(attester_slashing([5], [5]), SlashingSource.SSE, 3)
    w.on_voluntary_exit(voluntary_exit(6), OperationSource.SSE)
    state = load(WatchState, through_json(w.state))
    assert state == w.state
    again = SlashingWatch([5, 6], slots_per_epoch=32, state=state)
    assert again.on_attester_slashing(attester_slashing([5], [5]), SlashingSource.POOL, 3) == []


def test_finality_round_trip() -> None:
    w = FinalityWatch()
    w.observe(20, 10)
    state = load(FinalityState, through_json(w.state))
    assert state == w.state
    assert FinalityWatch(state=state).observe(21, 10) == []


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        to_json(object())
    with pytest.raises(TypeError):
        from_json(int, "3")
    with pytest.raises(TypeError):
        from_json(int | str, 3)
