"""The maintenance-window maths: which slots are busy, when a window is free, the longest gap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.monitor.forecast import DutyForecast, Gap, forecast

SPE = 8
PERIOD_EPOCHS = 8  # a sync period spans 64 slots


def _fc(
    current: int,
    *,
    proposers: dict[int, int] | None = None,
    sync: dict[int, list[int]] | None = None,
    pool: tuple[int, ...] = (1, 2),
    attesters: tuple[tuple[int, int], ...] = (),
    known_until: int | None = None,
) -> DutyForecast:
    epoch = current // SPE
    return forecast(
        current_slot=current,
        slots_per_epoch=SPE,
        epochs_per_period=PERIOD_EPOCHS,
        pool=pool,
        proposers=proposers or {},
        sync_members=sync or {},
        attesters=attesters,
        known_until=(epoch + 2) * SPE - 1 if known_until is None else known_until,
    )


def test_only_the_pools_future_proposals_count() -> None:
    fc = _fc(66, proposers={64: 1, 67: 9, 70: 2, 75: 1})
    assert [(p.slot, p.validator_index) for p in fc.proposals] == [(70, 2), (75, 1)]
    assert fc.first_busy() == 70
    assert fc.free_for(4)  # 66..69
    assert not fc.free_for(5)  # 66..70
    assert fc.busy_within(5) == 70


def test_a_sync_seat_makes_every_slot_of_its_period_busy() -> None:
    fc = _fc(70, sync={1: [2, 7]})
    assert [(s.period, s.first_slot, s.last_slot, s.validator_indices) for s in fc.sync] == [
        (1, 64, 127, (2,))
    ]
    assert fc.first_busy() == 70
    assert not fc.free_for(1)
    assert fc.longest_gap() is None


def test_a_seat_in_the_next_period_starts_busy_at_its_first_slot() -> None:
    fc = _fc(120, sync={1: [9], 2: [1]}, known_until=135)
    assert fc.first_busy() == 128
    assert fc.free_for(8)  # 120..127
    assert not fc.free_for(9)
    assert fc.longest_gap() == Gap(120, 127)


def test_a_window_past_what_is_known_is_never_free() -> None:
    fc = _fc(10, known_until=23)
    assert fc.free_for(14)  # 10..23
    assert not fc.free_for(15)
    assert fc.busy_within(15) is None  # not busy, merely unknown


def test_longest_gap_picks_the_longest_then_the_earliest() -> None:
    fc = _fc(8, proposers={10: 1, 14: 2, 20: 1})  # known 8..23
    # free runs: 8..9 (2), 11..13 (3), 15..19 (5), 21..23 (3)
    assert fc.longest_gap() == Gap(15, 19)
    assert _fc(8, proposers={11: 1, 14: 1}, known_until=17).longest_gap() == Gap(8, 10)


def test_attestations_are_counted_per_slot_and_never_busy() -> None:
    fc = _fc(9, attesters=((8, 1), (12, 1), (12, 2), (12, 9), (17, 2)))
    assert [(a.slot, a.validators) for a in fc.attestations] == [(12, 2), (17, 1)]
    assert fc.free_for(7)


def test_a_window_has_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        _fc(0).free_for(0)


@given(
    current=st.integers(0, 200),
    proposals=st.dictionaries(st.integers(0, 260), st.integers(0, 5), max_size=12),
    seat_periods=st.sets(st.integers(0, 4), max_size=2),
    within=st.integers(1, 40),
)
def test_free_exactly_when_no_known_slot_of_the_window_is_busy(
    current: int, proposals: dict[int, int], seat_periods: set[int], within: int
) -> None:
    fc = _fc(current, proposers=proposals, sync={p: [1] for p in seat_periods})
    window = range(current, current + within)
    period_slots = SPE * PERIOD_EPOCHS
    busy = {
        s
        for s in window
        if (proposals.get(s) in (1, 2) and s <= fc.known_until) or s // period_slots in seat_periods
    }
    known = current + within - 1 <= fc.known_until
    assert fc.free_for(within) == (known and not busy)
    assert fc.busy_within(within) == (min(busy) if busy else None)
    gap = fc.longest_gap()
    if gap is not None:
        assert all(not fc.is_busy(s) for s in range(gap.first_slot, gap.last_slot + 1))
        assert current <= gap.first_slot
        assert gap.last_slot <= fc.known_until
