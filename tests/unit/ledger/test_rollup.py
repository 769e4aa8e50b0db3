"""A period's roll-up is the exact sum of its epochs' detail, whatever the figures (any size,
negative, absent explanations), and a stored roll-up that differs in any figure is caught."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.ledger.rollup import DaySum, PeriodRollup, period_bounds, period_of
from stakepool.store.detail_pack import DetailRow

BIG = 2**80
"""Beyond 64 bits: the sums are Python ints, never narrowed."""

rows = st.builds(
    DetailRow,
    validator_index=st.integers(0, 20),
    reward_gwei=st.integers(-BIG, BIG),
    components_gwei=st.none()
    | st.dictionaries(
        st.sampled_from(["head", "source", "target", "sync"]), st.integers(-BIG, BIG)
    ),
    residual_gwei=st.none() | st.integers(-BIG, BIG),
    attestation_included=st.none() | st.booleans(),
    proposals=st.integers(0, 3),
    proposals_missed=st.integers(0, 3),
)
epochs = st.lists(
    st.lists(rows, max_size=12).map(lambda rs: list({r.validator_index: r for r in rs}.values())),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(epochs)
def test_the_roll_up_is_the_exact_sum_of_the_detail(detail: list[list[DetailRow]]) -> None:
    rollup = PeriodRollup(7)
    for epoch, rs in enumerate(detail, start=100):
        rollup.add_epoch(epoch, rs)
    flat = [(e, r) for e, rs in enumerate(detail, start=100) for r in rs]
    assert rollup.reward_gwei == sum(r.reward_gwei for _e, r in flat)
    for index, day in rollup.sums.items():
        mine = [(e, r) for e, r in flat if r.validator_index == index]
        assert day.epochs == len(mine)
        assert (day.first_epoch, day.last_epoch) == (mine[0][0], mine[-1][0])
        assert day.reward_gwei == sum(r.reward_gwei for _e, r in mine)
        assert day.attestations_included == sum(r.attestation_included is True for _e, r in mine)
        assert day.attestations_missed == sum(r.attestation_included is False for _e, r in mine)
        assert day.proposals == sum(r.proposals for _e, r in mine)
        assert day.proposals_missed == sum(r.proposals_missed for _e, r in mine)
        residuals = [r.residual_gwei for _e, r in mine if r.residual_gwei is not None]
        assert day.residual_gwei == (sum(residuals) if residuals else None)
        explained = [r.components_gwei for _e, r in mine if r.components_gwei is not None]
        if not explained:
            assert day.components_gwei is None
        else:
            names = {n for c in explained for n in c}
            sums = {n: sum(c.get(n, 0) for c in explained) for n in names}
            assert day.components_gwei == {n: v for n, v in sums.items() if v}
    assert set(rollup.sums) == {r.validator_index for _e, r in flat}
    assert rollup.matches({i: replace(d) for i, d in rollup.sums.items()}) is None


@settings(max_examples=100, deadline=None)
@given(epochs, st.integers(-3, 3).filter(bool))
def test_a_stored_roll_up_off_by_anything_is_caught(
    detail: list[list[DetailRow]], off: int
) -> None:
    rollup = PeriodRollup(0)
    for epoch, rs in enumerate(detail):
        rollup.add_epoch(epoch, rs)
    if not rollup.sums:
        return
    index = min(rollup.sums)
    day = rollup.sums[index]
    for changed in (
        replace(day, reward_gwei=day.reward_gwei + off),
        replace(day, epochs=day.epochs + off),
        replace(day, attestations_missed=day.attestations_missed + off),
        replace(day, residual_gwei=(day.residual_gwei or 0) + off),
    ):
        stored = dict(rollup.sums)
        stored[index] = changed
        assert rollup.matches(stored) is not None
    missing = {i: d for i, d in rollup.sums.items() if i != index}
    assert rollup.matches(missing) is not None


def test_epochs_are_added_once_and_in_order() -> None:
    rollup = PeriodRollup(0)
    rollup.add_epoch(3, [])
    with pytest.raises(ValueError, match="once and in order"):
        rollup.add_epoch(3, [])


def test_periods_are_aligned_on_epoch_zero() -> None:
    assert period_of(224, 225) == 0
    assert period_of(225, 225) == 1
    assert period_bounds(1, 225) == (225, 449)
    assert DaySum(1, 5, 5).epochs == 0
