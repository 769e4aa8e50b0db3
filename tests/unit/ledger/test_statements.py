"""Delegator statements over random ledgers: they add up, chain, and match the per-epoch rows."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakepool.chain.clock import ChainClock
from stakepool.ledger.accumulator import accrued_scaled, to_gwei
from stakepool.ledger.delegations import Delegation, schedule_of, weight_at
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlement
from stakepool.ledger.statements import (
    PoolRow,
    StatementError,
    month_epochs,
    parse_month,
    period_bounds,
    period_of,
    pool_period,
    range_figures,
    statement,
    takes_part,
    utc_time,
)
from tests.unit.ledger.model import PureLedger

FIRST = 100
EPOCHS = 14

delegation = st.builds(
    lambda d, amount, start, length: Delegation(
        f"d{d}", amount, FIRST + start, None if length is None else FIRST + start + length
    ),
    st.integers(0, 5),
    st.integers(1, 10**13),
    st.integers(-2, EPOCHS - 1),
    st.none() | st.integers(1, EPOCHS),
)
results = st.lists(
    st.tuples(st.integers(-(10**10), 10**11), st.none() | st.integers(0, 10**17)),
    min_size=1,
    max_size=EPOCHS,
)
policies = st.builds(
    LedgerPolicy,
    fee_bps=st.integers(0, 10_000),
    fee_mode=st.sampled_from(["high_water_mark", "per_epoch_positive", "period_net"]),
    loss_policy=st.sampled_from(["socialized", "operator_first"]),
    operator_bond_gwei=st.integers(0, 10**10),
    fee_period_epochs=st.integers(1, 5),
)


def _row(s: EpochSettlement) -> PoolRow:
    return PoolRow(
        epoch=s.epoch,
        status="final",
        total_weight_gwei=s.total_weight_gwei,
        reward_cl_gwei=s.reward_cl_gwei,
        reward_el_gwei=s.reward_el_gwei,
        reward_gwei=s.reward_gwei,
        fee_gwei=s.fee_gwei,
        bond_delta_gwei=s.bond_delta_gwei,
        unassigned_gwei=s.unassigned_gwei,
        distributed_gwei=s.distributed_gwei,
    )


def _epoch_credit(ledger: PureLedger, sched: list[tuple[int, int]], epoch: int) -> int:
    """The per-epoch ledger row's credit, as ``GET /delegators/{id}/epochs`` derives it."""
    if not sched:
        return 0
    start = sched[0][0]
    after = to_gwei(accrued_scaled(sched, ledger.acc_after, start, epoch))
    before = to_gwei(accrued_scaled(sched, ledger.acc_after, start, epoch - 1))
    return after - before


def _exact(rows: list[PoolRow], sched: list[tuple[int, int]], part: str) -> Fraction:
    total = Fraction(0)
    for r in rows:
        w = weight_at(sched, r.epoch)
        if r.total_weight_gwei and w:
            amount = {"el": r.reward_el_gwei or 0, "fee": r.fee_gwei, "loss": r.loss_gwei}[part]
            total += Fraction(amount * w, r.total_weight_gwei)
    return total


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(delegation, min_size=1, max_size=10),
    results,
    policies,
    st.integers(1, 6),
)
def test_statements_add_up_chain_and_equal_the_epoch_rows(
    entries: list[Delegation],
    stream: list[tuple[int, int | None]],
    policy: LedgerPolicy,
    period_epochs: int,
) -> None:
    delegators = sorted({e.delegator for e in entries})
    schedules = {d: schedule_of(e for e in entries if e.delegator == d) for d in delegators}
    ledger = PureLedger(policy, schedules)
    rows = [_row(ledger.settle(FIRST + i, cl, el)) for i, (cl, el) in enumerate(stream)]
    last_epoch = rows[-1].epoch
    closing: dict[str, int] = {}
    for period in range(period_of(FIRST, period_epochs), period_of(last_epoch, period_epochs) + 1):
        first, last = period_bounds(period, period_epochs)
        part = [r for r in rows if first <= r.epoch <= last]
        figures = range_figures(part)
        a, b = figures.first_epoch, figures.last_epoch
        statements = []
        for d, sched in schedules.items():
            s = statement(d, sched, figures, ledger.acc_after)
            rows_sum = sum(_epoch_credit(ledger, sched, k) for k in range(a, b + 1))
            # Each statement equals the sum of that delegator's per-epoch ledger rows.
            assert s.net_credit_gwei == rows_sum
            if not takes_part(sched, a, b):
                assert s.net_credit_gwei == 0
                assert s.principal_in_gwei == s.principal_out_gwei == 0
                continue
            statements.append(s)
            assert s.closing_balance_gwei == (
                s.opening_balance_gwei
                + s.principal_in_gwei
                - s.principal_out_gwei
                + s.net_credit_gwei
            )
            # Periods chain: what closed one opens the next (a delegator absent in between
            # keeps its balance).
            if d in closing:
                assert s.opening_balance_gwei == closing[d]
            closing[d] = s.closing_balance_gwei
            el = s.el_credit_gwei
            assert (el is None) == any(r.reward_el_gwei is None for r in part)
            el_known = (
                el
                if el is not None
                else to_gwei(accrued_scaled(sched, figures.lookup(figures.acc_el), a, b))
            )
            assert s.net_credit_gwei == (s.cl_credit_gwei + el_known - s.fee_gwei - s.losses_gwei)
            # Each share within 1 Gwei of its exact rational value.
            assert abs(el_known - _exact(part, sched, "el")) < 1
            assert abs(s.fee_gwei - _exact(part, sched, "fee")) < 1
            assert abs(s.losses_gwei - _exact(part, sched, "loss")) < 1
            assert s.principal_in_gwei >= 0
            assert s.principal_out_gwei >= 0
        # The pool's side: Σ credits + fees + bond + unassigned + dust = Σ R, dust bounded.
        pool = pool_period(part, statements)
        assert pool.reward_gwei == sum(r.reward_gwei for r in part)
        assert (
            pool.credited_gwei
            + pool.fee_gwei
            + pool.bond_delta_gwei
            + pool.unassigned_gwei
            + pool.dust_gwei
            == pool.reward_gwei
        )
        assert abs(pool.dust_gwei) < max(len(schedules), 1)
    # Over the whole ledger the statements give each delegator's accrual.
    for d, sched in schedules.items():
        if d in closing:
            assert closing[d] == weight_at(sched, last_epoch) + ledger.accrued(d, last_epoch)


def test_an_unknown_el_reward_is_unknown_never_zero() -> None:
    sched = [(0, 32 * 10**9)]
    ledger = PureLedger(LedgerPolicy(fee_bps=1000), {"a": sched})
    rows = [_row(ledger.settle(0, 1000, None)), _row(ledger.settle(1, 1000, 5 * 10**9))]
    assert statement("a", sched, range_figures(rows), ledger.acc_after).el_credit_gwei is None
    # The lone delegator gets all of epoch 1's 5 Gwei of EL reward (5·10⁹ wei).
    known = statement("a", sched, range_figures(rows[1:]), ledger.acc_after)
    assert known.el_credit_gwei == 5


def test_a_range_with_a_gap_or_no_epoch_is_refused() -> None:
    ledger = PureLedger(LedgerPolicy(), {"a": [(0, 1)]})
    rows = [_row(ledger.settle(0, 10)), _row(ledger.settle(1, 10)), _row(ledger.settle(2, 10))]
    for bad in ([], [rows[0], rows[2]]):
        try:
            range_figures(bad)
        except StatementError:
            continue
        raise AssertionError(f"accepted {bad}")


@given(st.integers(0, 10**9), st.integers(1, 10**6))
def test_periods_tile_the_epochs(epoch: int, period_epochs: int) -> None:
    period = period_of(epoch, period_epochs)
    first, last = period_bounds(period, period_epochs)
    assert first <= epoch <= last
    assert last - first + 1 == period_epochs
    assert period_bounds(period + 1, period_epochs)[0] == last + 1


clocks = st.builds(
    ChainClock,
    genesis_time=st.integers(1_500_000_000, 1_800_000_000),
    slot_duration_ms=st.integers(250, 20_000),
    slots_per_epoch=st.integers(1, 64),
)


@given(clocks, st.integers(2020, 2040), st.integers(1, 12))
def test_a_month_holds_exactly_the_epochs_that_start_in_it(
    clock: ChainClock, year: int, month: int
) -> None:
    span = month_epochs(year, month, clock)
    text = f"{year:04d}-{month:02d}"
    if span is None:  # before genesis
        assert utc_time(clock, 0)[:7] > text
        return
    first, last = span
    assert utc_time(clock, first)[:7] == text
    assert utc_time(clock, last)[:7] == text
    assert first == 0 or utc_time(clock, first - 1)[:7] < text
    assert utc_time(clock, last + 1)[:7] > text
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    after = month_epochs(*following, clock)
    assert after is not None
    assert after[0] == last + 1


def test_month_text_is_checked() -> None:
    assert parse_month("2026-02") == (2026, 2)
    for bad in ("2026-2", "2026-13", "26-02", "2026-02-01", "", "x"):
        try:
            parse_month(bad)
        except StatementError:
            continue
        raise AssertionError(f"accepted {bad!r}")
