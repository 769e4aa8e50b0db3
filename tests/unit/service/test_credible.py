"""A head or a finality past the present is set aside, never believed: a damaged number that
still parses (the corrupting proxy's 2⁶⁴−1 in a polled header or checkpoint) would close epochs
that have not happened or make every ledger row final; finality never goes back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models import FinalizedCheckpointEvent, HeadEvent
from stakepool.chain.clock import ChainClock
from stakepool.service.credible import check_checkpoints, incredible

CLOCK = ChainClock(genesis_time=1_700_000_000, slot_duration_ms=6_000, slots_per_epoch=8)
ROOT = "0x" + "ab" * 32
NOW_MS = CLOCK.epoch_start_ms(100) + 7_000  # epoch 100, its second slot
U64_MAX = 2**64 - 1


def head(slot: int) -> HeadEvent:
    return HeadEvent.model_validate({"slot": str(slot), "block": ROOT, "state": ROOT})


def finalized(epoch: int) -> FinalizedCheckpointEvent:
    return FinalizedCheckpointEvent.model_validate({"block": ROOT, "epoch": str(epoch)})


@given(st.integers(0, 101 * 8 + 7))
def test_heads_up_to_a_clock_skew_ahead_are_believed(slot: int) -> None:
    assert incredible(head(slot), CLOCK, NOW_MS) is None


@given(st.integers(102 * 8, U64_MAX))
def test_heads_past_the_present_are_set_aside(slot: int) -> None:
    why = incredible(head(slot), CLOCK, NOW_MS)
    assert why is not None
    assert f"slot {slot}" in why


def test_finality_past_the_present_is_set_aside() -> None:
    assert incredible(finalized(98), CLOCK, NOW_MS) is None
    assert incredible(finalized(101), CLOCK, NOW_MS) is None
    why = incredible(finalized(U64_MAX), CLOCK, NOW_MS)
    assert why is not None
    assert str(U64_MAX) in why
    assert incredible(object(), CLOCK, NOW_MS) is None  # other events: nothing to hold


def test_head_checkpoints_past_the_present_are_refused() -> None:
    check_checkpoints(99, 98, CLOCK, NOW_MS)
    for justified, final in ((U64_MAX, 98), (99, U64_MAX), (102, 98)):
        with pytest.raises(InconsistentAnswer, match="past the present"):
            check_checkpoints(justified, final, CLOCK, NOW_MS)
