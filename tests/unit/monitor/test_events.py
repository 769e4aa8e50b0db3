"""The event vocabulary: one class per kind, deterministic ids, JSON-ready, thresholds checked."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing

import pytest

from stakepool.beacon.models import ValidatorStatus
from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.events import (
    EVENT_TYPES,
    BlockMissed,
    BlockProposed,
    ChainReorged,
    EventKind,
    FinalityDelayed,
    MonitorThresholds,
    Severity,
    StatusChanged,
)


def test_one_class_per_kind_each_with_a_severity_and_an_epoch() -> None:
    assert sorted(t.kind for t in EVENT_TYPES) == sorted(EventKind)
    for t in EVENT_TYPES:
        assert isinstance(t.severity, Severity)
        names = {f.name for f in dataclasses.fields(t)}
        assert "epoch" in names
        assert t.identity is None or set(t.identity) <= names
        hints = typing.get_type_hints(t)
        assert "validator_index" not in names or hints["validator_index"] is ValidatorIndex


def test_same_event_same_id_and_different_events_differ() -> None:
    a = BlockMissed(validator_index=ValidatorIndex(1), epoch=Epoch(3), slot=Slot(100))
    b = BlockMissed(validator_index=ValidatorIndex(1), epoch=Epoch(3), slot=Slot(100))
    c = BlockMissed(validator_index=ValidatorIndex(1), epoch=Epoch(3), slot=Slot(101))
    assert a.event_id == b.event_id
    assert a.event_id != c.event_id
    assert len(a.event_id) == 64
    # Same coordinates, other kind: other id.
    p = BlockProposed(validator_index=ValidatorIndex(1), epoch=Epoch(3), slot=Slot(100), root="0x1")
    assert p.event_id != a.event_id


def test_ids_are_stable_across_processes() -> None:
    # A fixed value: a change here breaks consumers' de-duplication after an upgrade.
    e = BlockMissed(validator_index=ValidatorIndex(1), epoch=Epoch(3), slot=Slot(100))
    body = b'["block_missed",[["validator_index",1],["epoch",3],["slot",100]]]'
    assert e.event_id == hashlib.sha256(body).hexdigest()


def test_identity_narrows_what_makes_two_sightings_the_same_event() -> None:
    first = StatusChanged(
        validator_index=ValidatorIndex(1),
        epoch=Epoch(3),
        old=ValidatorStatus.ACTIVE_ONGOING,
        new=ValidatorStatus.ACTIVE_EXITING,
    )
    later = dataclasses.replace(first, epoch=Epoch(4))
    assert first.event_id == later.event_id
    d1 = FinalityDelayed(epoch=Epoch(14), finalized_epoch=Epoch(10), delay=4)
    d2 = FinalityDelayed(epoch=Epoch(15), finalized_epoch=Epoch(10), delay=5)
    assert d1.event_id == d2.event_id


def test_to_dict_is_json_ready_with_kind_severity_and_id() -> None:
    e = StatusChanged(
        validator_index=ValidatorIndex(1),
        epoch=Epoch(3),
        old=ValidatorStatus.ACTIVE_ONGOING,
        new=ValidatorStatus.ACTIVE_SLASHED,
    )
    d = json.loads(json.dumps(e.to_dict()))
    assert d == {
        "validator_index": 1,
        "epoch": 3,
        "old": "active_ongoing",
        "new": "active_slashed",
        "kind": "status_changed",
        "severity": "info",
        "event_id": e.event_id,
    }
    assert e.coordinates.validator_index == 1
    assert e.coordinates.slot is None


def test_events_are_immutable() -> None:
    e = BlockMissed(validator_index=ValidatorIndex(1), epoch=Epoch(3), slot=Slot(100))
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.slot = Slot(5)


def test_thresholds_defaults_and_validation() -> None:
    t = MonitorThresholds()
    assert (t.missed_attestation_streak, t.finality_delay_epochs, t.sync_participation_low) == (
        2,
        3,
        0.8,
    )
    with pytest.raises(ValueError, match="at least 1"):
        MonitorThresholds(missed_attestation_streak=0)
    with pytest.raises(ValueError, match="at least 1"):
        MonitorThresholds(finality_delay_epochs=0)
    with pytest.raises(ValueError, match="ratio"):
        MonitorThresholds(sync_participation_low=1.5)


def test_a_reorg_has_one_id_whoever_reports_it() -> None:
    def reorg(new_head: str) -> ChainReorged:
        return ChainReorged(
            epoch=Epoch(3),
            slot=Slot(26),
            depth=1,
            old_head_block="0x" + "aa" * 32,
            new_head_block=new_head,
        )

    first, again = reorg("0x" + "bb" * 32), reorg("0x" + "bb" * 32)
    assert first.event_id == again.event_id
    assert reorg("0x" + "cc" * 32).event_id != first.event_id
    assert first.kind == EventKind.REORG == "reorg"
    assert first.severity is Severity.INFO
    assert first.to_dict()["depth"] == 1
