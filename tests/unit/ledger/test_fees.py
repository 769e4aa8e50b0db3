"""Fee modes: the formulas of accounting.md §6.2/§10.7 and "never a fee on a loss"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stakepool.ledger.fees import FeeState, operator_fee
from stakepool.ledger.policy import LedgerPolicy

rewards = st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=40)
bps = st.integers(0, 10_000)


def _run(policy: LedgerPolicy, results: list[int], first_epoch: int = 0) -> list[int]:
    state = FeeState()
    fees = []
    for i, r in enumerate(results):
        fee, state = operator_fee(first_epoch + i, r, state, policy)
        fees.append(fee)
    return fees


@given(rewards, bps)
def test_per_epoch_positive_is_the_cut_of_each_positive_epoch(
    results: list[int], fee_bps: int
) -> None:
    fees = _run(LedgerPolicy(fee_bps=fee_bps, fee_mode="per_epoch_positive"), results)
    assert fees == [r * fee_bps // 10_000 if r > 0 else 0 for r in results]


@given(rewards, bps)
def test_high_water_mark_charges_only_gains_above_the_previous_peak(
    results: list[int], fee_bps: int
) -> None:
    fees = _run(LedgerPolicy(fee_bps=fee_bps, fee_mode="high_water_mark"), results)
    peak = cumulative = 0
    for r, fee in zip(results, fees, strict=True):
        cumulative += r
        peak = max(peak, cumulative)
        assert 0 <= fee <= max(r, 0)  # never a fee on a loss, never more than the gain
    # The cumulative fee is exactly the cut of the highest cumulative result (no unit lost).
    assert sum(fees) == peak * fee_bps // 10_000


def test_high_water_mark_waits_until_a_loss_is_earned_back() -> None:
    fees = _run(LedgerPolicy(fee_bps=1000, fee_mode="high_water_mark"), [1000, -500, 300, 400])
    # After the loss of 500 the pool must earn 500 back: 300 earns nothing, then 200 of 400 counts.
    assert fees == [100, 0, 0, 20]


@given(rewards, bps, st.integers(1, 7), st.integers(0, 20))
def test_period_net_charges_the_period_net_result_once_at_its_end(
    results: list[int], fee_bps: int, period: int, start: int
) -> None:
    policy = LedgerPolicy(fee_bps=fee_bps, fee_mode="period_net", fee_period_epochs=period)
    fees = _run(policy, results, first_epoch=start)
    by_period: dict[int, list[tuple[int, int, int]]] = {}
    for i, (r, fee) in enumerate(zip(results, fees, strict=True)):
        epoch = start + i
        by_period.setdefault(epoch // period, []).append((epoch, r, fee))
    for rows in by_period.values():
        net = sum(r for _e, r, _f in rows)
        closed = (rows[-1][0] + 1) % period == 0
        for epoch, _r, fee in rows:
            if (epoch + 1) % period != 0:
                assert fee == 0
        assert sum(f for _e, _r, f in rows) == (max(0, net) * fee_bps // 10_000 if closed else 0)
        assert sum(f for _e, _r, f in rows) <= max(net, 0)
