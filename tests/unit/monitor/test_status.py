"""Status transitions, effective balance and withdrawal-credential type from validator records."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from stakepool.beacon.models import ValidatorInfo, ValidatorStatus
from stakepool.monitor.events import (
    CredentialsChanged,
    EffectiveBalanceChanged,
    EventKind,
    StatusChanged,
)
from stakepool.monitor.status import CredentialType, StatusTracker, credential_type
from tests.unit.monitor.builders import validator_info

FIXTURES = Path(__file__).parents[2] / "fixtures" / "beacon"
ADDR = "00" * 11 + "ee" * 20


@pytest.mark.parametrize(
    ("creds", "kind"),
    [
        ("0x00" + "ab" * 31, CredentialType.BLS),
        ("0x01" + ADDR, CredentialType.EXECUTION),
        ("0x02" + ADDR, CredentialType.COMPOUNDING),
        ("0x03" + ADDR, CredentialType.UNKNOWN),
    ],
)
def test_credential_type_from_prefix(creds: str, kind: CredentialType) -> None:
    assert credential_type(creds) is kind


def test_first_snapshot_is_a_baseline_without_events() -> None:
    t = StatusTracker()
    assert t.observe(10, [validator_info(1), validator_info(2, "pending_queued")]) == []
    snap = t.snapshot(2)
    assert snap is not None
    assert snap.status is ValidatorStatus.PENDING_QUEUED


def test_lifecycle_pending_to_withdrawal_reports_each_step_once() -> None:
    t = StatusTracker()
    seen: list[tuple[str, str]] = []
    steps = [
        "pending_initialized",
        "pending_queued",
        "active_ongoing",
        "active_exiting",
        "exited_unslashed",
        "withdrawal_possible",
        "withdrawal_done",
    ]
    for epoch, status in enumerate(steps):
        for ev in t.observe(epoch, [validator_info(1, status)]) + t.observe(
            epoch, [validator_info(1, status)]
        ):
            assert isinstance(ev, StatusChanged)
            seen.append((ev.old.value, ev.new.value))
    assert seen == list(itertools.pairwise(steps))


def test_slashing_shows_as_a_slashed_status() -> None:
    t = StatusTracker()
    t.observe(10, [validator_info(1)])
    [ev] = t.observe(11, [validator_info(1, "active_slashed", slashed=True)])
    assert isinstance(ev, StatusChanged)
    assert ev.new is ValidatorStatus.ACTIVE_SLASHED
    snap = t.snapshot(1)
    assert snap is not None
    assert snap.slashed


def test_effective_balance_and_compounding_switch() -> None:
    t = StatusTracker()
    t.observe(10, [validator_info(1)])
    ev = t.observe(
        11, [validator_info(1, effective_balance=33_000_000_000, credentials="0x02" + ADDR)]
    )
    assert [e.kind for e in ev] == [
        EventKind.EFFECTIVE_BALANCE_CHANGED,
        EventKind.CREDENTIALS_CHANGED,
    ]
    eb, cred = ev
    assert isinstance(eb, EffectiveBalanceChanged)
    assert (eb.old, eb.new) == (32_000_000_000, 33_000_000_000)
    assert isinstance(cred, CredentialsChanged)
    assert (cred.old, cred.new) == ("0x01", "0x02")


def test_an_older_snapshot_does_not_undo_a_newer_one() -> None:
    t = StatusTracker()
    t.observe(10, [validator_info(1)])
    t.observe(12, [validator_info(1, "active_exiting")])
    assert t.observe(11, [validator_info(1)]) == []
    snap = t.snapshot(1)
    assert snap is not None
    assert snap.status is ValidatorStatus.ACTIVE_EXITING


def test_restart_from_state_does_not_reannounce() -> None:
    t = StatusTracker()
    t.observe(10, [validator_info(1, "active_exiting")])
    again = StatusTracker(t.state)
    assert again.observe(11, [validator_info(1, "active_exiting")]) == []
    assert len(again.observe(12, [validator_info(1, "exited_unslashed")])) == 1


def test_fixture_records() -> None:
    body = json.loads((FIXTURES / "state_validators.json").read_text())["response"]["body"]
    infos = [ValidatorInfo.model_validate(d) for d in body["data"]]
    t = StatusTracker()
    t.observe(1, infos)
    snap = t.snapshot(infos[0].index)
    assert snap is not None
    assert snap.credentials is CredentialType.COMPOUNDING
