"""A merged window is exact in total: the shares of the span's epochs add up to the span's
settlement, which is what the balances, withdrawals and deposits say (accounting.md §4.1 over the
span); a loss is never shown as a gain in one of its epochs; a consolidation processed inside the
span is found."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.rewards.maths import settle
from stakepool.rewards.merging import SpanEnd, processed_consolidations, span_rows, spread
from stakepool.rewards.types import BalanceMoves, ValidatorEpochReward

gwei = st.integers(min_value=0, max_value=2**64 - 1)
amount = st.integers(min_value=-(2**70), max_value=2**70)


@given(amount, st.integers(min_value=1, max_value=5000))
def test_spread_is_exact_in_total_and_never_flips_the_sign(total: int, epochs: int) -> None:
    shares = spread(total, epochs)
    assert len(shares) == epochs
    assert sum(shares) == total
    assert all(s * total >= 0 for s in shares)  # a loss stays a loss, a gain a gain
    exact = Fraction(total, epochs)
    assert all(abs(s - exact) < 1 for s in shares[:-1])  # equal shares but the last


def test_spread_refuses_an_empty_span() -> None:
    with pytest.raises(ValueError, match="at least one epoch"):
        spread(5, 0)


@st.composite
def spans(draw: st.DrawFn) -> tuple[int, int, list[int], dict[int, ValidatorEpochReward], SpanEnd]:
    first = draw(st.integers(min_value=1, max_value=10**6))
    last = first + draw(st.integers(min_value=0, max_value=40))
    indices = sorted(draw(st.sets(st.integers(0, 10**6), min_size=1, max_size=8)))
    pubkeys = {v: f"0x{v:096x}" for v in indices}
    start = {
        v: ValidatorEpochReward(
            validator=v,
            epoch=first - 1,
            settlement_gwei=0,
            balance_start_gwei=0,
            balance_end_gwei=draw(gwei),
            moves=BalanceMoves(pending_deposits_end_gwei=draw(gwei)),
            effective_balance_gwei=0,
        )
        for v in indices
    }
    end = SpanEnd(
        balances={v: draw(gwei) for v in indices},
        pubkeys=pubkeys,
        pending={pubkeys[v]: draw(gwei) for v in indices if draw(st.booleans())},
        withdrawals={v: draw(gwei) for v in indices if draw(st.booleans())},
        deposit_requests={pubkeys[v]: draw(gwei) for v in indices if draw(st.booleans())},
    )
    return first, last, indices, start, end


@given(spans())
def test_the_span_rows_add_up_to_what_the_balances_say(
    span: tuple[int, int, list[int], dict[int, ValidatorEpochReward], SpanEnd],
) -> None:
    first, last, indices, start, end = span
    rows = span_rows(first, last, indices, start, end)
    assert sorted(rows) == list(range(first, last + 1))
    for v in indices:
        key = end.pubkeys[v]
        truth = (
            end.balances[v]
            - start[v].balance_end_gwei
            + end.withdrawals.get(v, 0)
            - (
                start[v].moves.pending_deposits_end_gwei
                + end.deposit_requests.get(key, 0)
                - end.pending.get(key, 0)
            )
        )
        per_epoch = [next(r for r in rows[e] if r.validator == v) for e in rows]
        assert sum(r.settlement_gwei for r in per_epoch) == truth
        assert truth == settle(start[v].balance_end_gwei, end.balances[v], per_epoch[-1].moves)
        # The last row carries the span's end: the start of a later merge.
        assert per_epoch[-1].balance_end_gwei == end.balances[v]
        assert per_epoch[-1].moves.pending_deposits_end_gwei == end.pending.get(key, 0)
    # The pool's figure too (conservation over the span).
    pool = sum(r.settlement_gwei for e in rows for r in rows[e])
    assert pool == sum(
        end.balances[v]
        - start[v].balance_end_gwei
        + end.withdrawals.get(v, 0)
        - start[v].moves.pending_deposits_end_gwei
        - end.deposit_requests.get(end.pubkeys[v], 0)
        + end.pending.get(end.pubkeys[v], 0)
        for v in indices
    )


@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=8),
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=8),
)
def test_a_consolidation_gone_from_the_queue_is_found(
    start: list[tuple[int, int]], added: list[tuple[int, int]]
) -> None:
    # The queue at the end: what stayed (a suffix; the queue is processed in order) plus new ones.
    stayed = start[len(start) // 2 :]
    gone = start[: len(start) // 2]
    found = processed_consolidations(start, stayed + added)
    assert len(found) <= len(gone)
    assert processed_consolidations(start, start + added) == []
    if not set(gone) & set(stayed + added):
        assert found == sorted(gone)
