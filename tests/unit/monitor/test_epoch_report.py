"""The epoch report's pool figures: the balance change is the sum of each validator's change over
the validators seen at both ends (a validator that joined or left does not count as a change)."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from stakepool.chain.balance_view import BalanceView
from stakepool.chain.types import Epoch, Gwei, Root, Slot, ValidatorIndex
from stakepool.monitor.facts import EpochReport
from stakepool.monitor.head import HeadView

HEAD = HeadView(Slot(41), Root("0x" + "ab" * 32), Epoch(5), Epoch(4), Epoch(3))
balances = st.dictionaries(
    st.integers(0, 40).map(ValidatorIndex), st.integers(0, 2**64 - 1).map(Gwei), max_size=30
)


@given(balances, st.one_of(st.none(), balances), st.booleans())
def test_change_is_the_sum_of_changes_over_validators_at_both_ends(
    now: dict[ValidatorIndex, Gwei], before: dict[ValidatorIndex, Gwei] | None, same_keys: bool
) -> None:
    if before is not None and same_keys:
        before = {i: Gwei(b // 2) for i, b in now.items()}
    report = EpochReport(Epoch(5), Slot(47), now, before, HEAD)
    assert report.total == sum(now.values())
    if before is None:
        assert report.change is None
    else:
        assert report.change == sum(now[i] - before[i] for i in now if i in before)


def _view(balances: dict[ValidatorIndex, Gwei]) -> BalanceView:
    return BalanceView(array("Q", balances), array("Q", balances.values()))


@given(balances, st.one_of(st.none(), balances), st.booleans(), st.booleans())
def test_the_report_over_the_answers_arrays_tells_what_the_dicts_tell(
    now: dict[ValidatorIndex, Gwei],
    before: dict[ValidatorIndex, Gwei] | None,
    same_keys: bool,
    before_as_view: bool,
) -> None:
    """The daemon's reports hold the balances as the answer's arrays (``BalanceView``)."""
    if before is not None and same_keys:
        before = {i: Gwei(b // 2) for i, b in now.items()}
    expected = EpochReport(Epoch(5), Slot(47), now, before, HEAD)
    view = _view(now)
    earlier = _view(before) if before is not None and before_as_view else before
    report = EpochReport(Epoch(5), Slot(47), view, earlier, HEAD)
    assert (report.total, report.change) == (expected.total, expected.change)
    assert dict(view) == now
    assert len(view) == len(now)
    assert all(i in view and view[i] == b for i, b in now.items())
    assert ValidatorIndex(41) not in view
