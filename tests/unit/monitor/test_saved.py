"""The monitor's whole saved state: one JSON document that restores every tracker, refuses a
document of another chain or format, and breaks streaks across a gap."""

from __future__ import annotations

import json

import pytest

from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.events import AttestationMissed, AttestationStreak, SlashingSource
from stakepool.monitor.finality import FinalityWatch
from stakepool.monitor.keeper import to_outbox
from stakepool.monitor.proposals import ProposalTracker, ProposerDutyRef
from stakepool.monitor.saved import MonitorSaved, SavedStateError, decode, encode
from stakepool.monitor.slashing import SlashingWatch
from stakepool.monitor.status import StatusTracker
from stakepool.monitor.streaks import MissedStreaks
from stakepool.monitor.thresholds import MonitorThresholds
from tests.unit.monitor.builders import attester_slashing, header_info, validator_info
from tests.unit.monitor.test_streaks import outcome

CHAIN = "0x" + "ab" * 32 + "@1606824023"


def _saved() -> MonitorSaved:
    streaks = MissedStreaks(2)
    streaks.observe(3, [outcome(1, 3, False)])
    proposals = ProposalTracker(32)
    proposals.update(ProposerDutyRef(ValidatorIndex(4), 70), [header_info(70, 4, 1, True)], 71)
    status = StatusTracker()
    status.observe(3, [validator_info(1), validator_info(2, "active_exiting")])
    slashing = SlashingWatch([5], slots_per_epoch=32)
    slashing.on_attester_slashing(attester_slashing([5], [5]), SlashingSource.SSE, 3)
    finality = FinalityWatch(MonitorThresholds(), 4)
    finality.observe(10, 2)
    return MonitorSaved(
        epoch=Epoch(3),
        streaks=streaks.state,
        proposals=proposals.state,
        status=status.state,
        slashing=slashing.state,
        finality=finality.state,
        doppelgangers=frozenset({ValidatorIndex(9)}),
        finalized_checked=Epoch(1),
        attestations_through=Epoch(2),
        sync_through=Epoch(3),
        attestation_retries={Epoch(1): 2},
    )


def test_the_whole_state_round_trips_with_the_counters() -> None:
    saved = _saved()
    counters = {"label": "validator", "counters": {"attestations": [[{"validator": "1"}, 3]]}}
    again, metrics = decode(encode(saved, counters, CHAIN), CHAIN)
    assert again == saved
    assert metrics == counters
    # Restored trackers stay silent about what they already told.
    assert MissedStreaks(2, again.streaks).observe(3, [outcome(1, 3, False)]) == []
    watch = SlashingWatch([5], slots_per_epoch=32, state=again.slashing)
    assert watch.on_attester_slashing(attester_slashing([5], [5]), SlashingSource.POOL, 4) == []


def test_another_chain_or_format_or_damage_is_refused_with_a_reason() -> None:
    text = encode(_saved(), {}, CHAIN)
    with pytest.raises(SavedStateError, match="another chain"):
        decode(text, "0x" + "cd" * 32 + "@1")
    body = json.loads(text)
    body["version"] = 99
    with pytest.raises(SavedStateError, match="format 99"):
        decode(json.dumps(body), CHAIN)
    with pytest.raises(SavedStateError, match="cannot be read"):
        decode(text[:40], CHAIN)
    del body["state"]["streaks"]
    body["version"] = 1
    with pytest.raises(SavedStateError, match="cannot be read"):
        decode(json.dumps(body), CHAIN)


def test_a_gap_ends_every_streak_silently() -> None:
    t = MissedStreaks(2)
    t.observe(3, [outcome(1, 3, False), outcome(2, 3, False)])
    assert t.streak(1) == 1
    t.gap()
    assert t.streak(1) == t.streak(2) == 0
    events = t.observe(5, [outcome(1, 5, False)])
    assert [type(e) for e in events] == [AttestationMissed]  # streak 1: no alert yet
    events = t.observe(6, [outcome(1, 6, False)])
    assert [type(e) for e in events] == [AttestationMissed, AttestationStreak]


def test_an_event_travels_in_the_versioned_envelope() -> None:
    event = AttestationMissed(validator_index=ValidatorIndex(7), epoch=Epoch(3), slot=99, streak=2)  # type: ignore[arg-type]
    row = to_outbox(event, "alpha", timestamp=1_700_000_000.0)
    body = json.loads(row.payload)
    assert row.event_id == event.event_id == body["event_id"]
    assert body["kind"] == "attestation_missed"
    assert body["severity"] == "info"
    assert body["pool_id"] == "alpha"
    assert body["chain"] == {"epoch": 3, "slot": 99, "validator_index": 7}
    assert body["data"] == {"validator_index": 7, "epoch": 3, "slot": 99, "streak": 2}
    assert body["schema_version"] == 1
