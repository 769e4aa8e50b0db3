"""The clock on the three networks we promise: mainnet, Gnosis and the minimal preset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.chain.clock import ChainClock

MAINNET = ChainClock(genesis_time=1606824023, slot_duration_ms=12_000, slots_per_epoch=32)
GNOSIS = ChainClock(genesis_time=1638993340, slot_duration_ms=5_000, slots_per_epoch=16)
MINIMAL = ChainClock(genesis_time=1_700_000_000, slot_duration_ms=6_000, slots_per_epoch=8)


@pytest.mark.parametrize(
    ("clock", "seconds_after_genesis", "slot", "epoch"),
    [
        (MAINNET, 0, 0, 0),
        (MAINNET, 11.999, 0, 0),
        (MAINNET, 12, 1, 0),
        (MAINNET, 32 * 12, 32, 1),
        (MAINNET, 411392 * 32 * 12 + 5, 411392 * 32, 411392),  # Fulu's first slot
        (GNOSIS, 4.999, 0, 0),
        (GNOSIS, 5, 1, 0),
        (GNOSIS, 16 * 5, 16, 1),
        (GNOSIS, 16 * 5 * 100 + 79.9, 1615, 100),
        (MINIMAL, 8 * 6 - 0.001, 7, 0),
        (MINIMAL, 8 * 6, 8, 1),
    ],
)
def test_slot_and_epoch_at_time(
    clock: ChainClock, seconds_after_genesis: float, slot: int, epoch: int
) -> None:
    now_ms = clock.genesis_ms + round(seconds_after_genesis * 1000)
    assert clock.slot_at(now_ms) == slot
    assert clock.epoch_at(now_ms) == epoch


@pytest.mark.parametrize("clock", [MAINNET, GNOSIS, MINIMAL])
def test_epoch_boundaries(clock: ChainClock) -> None:
    n = clock.slots_per_epoch
    assert clock.start_slot(3) == 3 * n
    assert clock.last_slot(3) == 4 * n - 1
    assert clock.epoch_of(clock.last_slot(3)) == 3
    assert clock.epoch_of(clock.last_slot(3) + 1) == 4
    assert clock.epoch_duration_ms == n * clock.slot_duration_ms


@pytest.mark.parametrize("clock", [MAINNET, GNOSIS, MINIMAL])
def test_next_boundaries(clock: ChainClock) -> None:
    mid = clock.slot_start_ms(10) + clock.slot_duration_ms // 3
    assert clock.next_slot_start_ms(mid) == clock.slot_start_ms(11)
    assert clock.slot_fraction_ms(mid) == clock.slot_duration_ms // 3
    assert clock.next_epoch_start_ms(mid) == clock.epoch_start_ms(clock.epoch_of(10) + 1)
    # On a boundary exactly, "next" is the following one, never now.
    assert clock.next_slot_start_ms(clock.slot_start_ms(11)) == clock.slot_start_ms(12)


def test_before_genesis_waits_for_genesis() -> None:
    before = MAINNET.genesis_ms - 60_000
    assert MAINNET.is_before_genesis(before)
    assert MAINNET.slot_at(before) == 0
    assert MAINNET.next_slot_start_ms(before) == MAINNET.genesis_ms
    assert MAINNET.next_epoch_start_ms(before) == MAINNET.genesis_ms


def test_sub_second_slots_for_tests() -> None:
    fast = ChainClock(genesis_time=100, slot_duration_ms=50, slots_per_epoch=8)
    assert fast.slot_at(100_000 + 399) == 7
    assert fast.slot_at(100_000 + 400) == 8
    assert fast.epoch_at(100_000 + 400) == 1


@pytest.mark.parametrize(("ms", "spe"), [(0, 32), (12_000, 0), (-1, 8)])
def test_rejects_nonsense(ms: int, spe: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ChainClock(genesis_time=0, slot_duration_ms=ms, slots_per_epoch=spe)


@given(
    slot=st.integers(min_value=0, max_value=2**40),
    offset=st.integers(min_value=0, max_value=11_999),
)
def test_slot_start_round_trips(slot: int, offset: int) -> None:
    assert MAINNET.slot_at(MAINNET.slot_start_ms(slot) + offset) == slot
