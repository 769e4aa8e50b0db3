"""Duty counters survive a restart: a snapshot restored into a fresh registry scrapes the same."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from stakepool.monitor.verdicts import (
    AttestationFlag,
    AttestationVerdict,
    ProposalVerdict,
    UnexpectedOperation,
)
from stakepool.publish.metrics import Metrics

PREFIXES = (
    "stakepool_attestation",
    "stakepool_proposals",
    "stakepool_sync",
    "stakepool_slashing",
    "stakepool_doppelganger_detections",
    "stakepool_unexpected",
)


def duty_samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Duty series, without the streak gauge (restored from the streak tracker's state)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(m.render().decode())
        for s in family.samples
        if s.name.startswith(PREFIXES) and s.name != "stakepool_attestation_missed_streak"
    }


def _fill(m: Metrics) -> None:
    d = m.duties
    d.record_attestation(1, AttestationVerdict.MISSED)
    d.record_attestation(2, AttestationVerdict.INCLUDED, inclusion_delay=1)
    d.record_attestation(
        2, AttestationVerdict.INCLUDED, inclusion_delay=6, missed_flags=[AttestationFlag.HEAD]
    )
    d.record_attestation(3, AttestationVerdict.INCLUDED, inclusion_delay=40)
    d.record_proposal(2, ProposalVerdict.ORPHANED)
    d.record_sync_signatures(3, signed=30, missed=2)
    d.set_sync_participation({3: (30, 32)})
    d.record_slashing_evidence(1)
    d.record_doppelganger(2)
    d.record_unexpected_operation(3, UnexpectedOperation.VOLUNTARY_EXIT)


def test_a_restored_snapshot_scrapes_exactly_the_same() -> None:
    for limit, labels in (
        (64, [(1, None), (2, None), (3, None)]),
        (1, [(1, "a"), (2, "a"), (3, "b")]),
    ):
        before = Metrics(per_validator_limit=limit)
        before.set_pool(labels)
        _fill(before)
        snapshot = json.loads(json.dumps(before.duties.snapshot()))  # as stored
        after = Metrics(per_validator_limit=limit)
        after.set_pool(labels)
        after.duties.restore(snapshot)
        got, want = duty_samples(after), duty_samples(before)
        assert got == want
        assert any(v for v in want.values())


def test_a_snapshot_of_another_labelling_is_not_mixed_in() -> None:
    before = Metrics(per_validator_limit=64)
    before.set_pool([(1, "a")])
    _fill(before)
    after = Metrics(per_validator_limit=0)  # now grouped: validator series cannot map to groups
    after.set_pool([(1, "a")])
    after.duties.restore(before.duties.snapshot())
    assert all(v == 0 for k, v in duty_samples(after).items() if k[0].endswith("_total"))
