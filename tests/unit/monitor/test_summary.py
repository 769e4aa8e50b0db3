"""Attestation counts per epoch and per operator group."""

from __future__ import annotations

from stakepool.chain.types import CommitteeIndex, Epoch, Slot, ValidatorIndex
from stakepool.monitor.attestations import AttestationOutcome
from stakepool.monitor.summary import AttestationSummary, summarize_attestations, summarize_by


def outcome(v: int, delay: int | None, flags: str = "") -> AttestationOutcome:
    slot = 320
    return AttestationOutcome(
        ValidatorIndex(v),
        Epoch(10),
        Slot(slot),
        CommitteeIndex(0),
        None if delay is None else Slot(slot + delay),
        "s" in flags,
        "t" in flags,
        "h" in flags,
        "s" in flags,
        "t" in flags,
        "h" in flags,
    )


OUTCOMES = [outcome(1, 1, "sth"), outcome(2, 2, "st"), outcome(3, None), outcome(4, 1, "st")]


def test_counts_and_delay_histogram() -> None:
    s = summarize_attestations(OUTCOMES)
    assert (s.duties, s.included, s.missed) == (4, 3, 1)
    assert (s.source_misses, s.target_misses, s.head_misses) == (1, 1, 3)
    assert s.delays == {1: 2, 2: 1}


def test_empty_epoch() -> None:
    assert summarize_attestations([]) == AttestationSummary()


def test_grouped_by_operator_label() -> None:
    groups = summarize_by(OUTCOMES, lambda v: "a" if v <= 2 else "b")
    assert list(groups) == ["a", "b"]
    assert (groups["a"].included, groups["b"].missed) == (2, 1)
