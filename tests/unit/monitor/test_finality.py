"""Finality delay and inactivity leak start and end once each."""

from __future__ import annotations

from stakepool.chain.types import Epoch
from stakepool.monitor.events import (
    EventKind,
    FinalityDelayed,
    MonitorThresholds,
    Severity,
)
from stakepool.monitor.finality import FinalityWatch, is_in_inactivity_leak


def kinds(events: list[object]) -> list[EventKind]:
    return [e.kind for e in events]


def test_healthy_chain_is_quiet() -> None:
    w = FinalityWatch()
    for epoch in range(2, 50):
        assert w.observe(epoch, epoch - 2) == []


def test_stall_raises_delay_then_leak_and_both_end_on_finality() -> None:
    w = FinalityWatch()
    assert w.observe(12, 10) == []
    assert w.observe(13, 10) == []  # delay 3: at the threshold, not beyond it
    ev = w.observe(14, 10)
    assert ev == [FinalityDelayed(epoch=Epoch(14), finalized_epoch=Epoch(10), delay=4)]
    assert w.observe(14, 10) == []  # same epoch again
    assert w.observe(15, 10) == []  # previous 14 − 10 = 4: not yet a leak
    ev = w.observe(16, 10)  # previous 15 − 10 = 5 > 4
    assert kinds(ev) == [EventKind.INACTIVITY_LEAK_STARTED]
    assert ev[0].severity is Severity.CRITICAL
    assert w.observe(17, 10) == []
    assert kinds(w.observe(18, 16)) == [
        EventKind.INACTIVITY_LEAK_ENDED,
        EventKind.FINALITY_RESTORED,
    ]
    assert w.observe(19, 17) == []


def test_threshold_is_configurable_and_state_survives_restarts() -> None:
    w = FinalityWatch(
        MonitorThresholds(finality_delay_epochs=5), min_epochs_to_inactivity_penalty=10
    )
    assert w.observe(15, 10) == []
    assert kinds(w.observe(16, 10)) == [EventKind.FINALITY_DELAYED]
    again = FinalityWatch(MonitorThresholds(finality_delay_epochs=5), 10, state=w.state)
    assert again.observe(17, 10) == []
    assert again.observe(12, 10) == []  # an older view changes nothing


def test_leak_rule_matches_the_spec() -> None:
    assert not is_in_inactivity_leak(5, 0, 4)  # previous 4 − 0 = 4
    assert is_in_inactivity_leak(6, 0, 4)
    assert not is_in_inactivity_leak(0, 0, 4)
