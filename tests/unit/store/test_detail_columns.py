"""The columns' fast path writes the very bytes and digest the row-by-row path writes (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow
from stakepool.ledger.store.settle_digest import settle_digest
from stakepool.store.detail_columns import read_columns, split_columns
from stakepool.store.detail_pack import split

FIGURE = st.one_of(
    st.integers(-300, 300),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, True]),  # past 64 bits, a bool
)
NAMES = st.sampled_from(["source", "target", "head", "sync", 'odd "100%" \u00e9'])


@st.composite
def inputs(draw: st.DrawFn) -> EpochSettlementInput:
    indices = draw(st.lists(st.integers(0, 2**40), unique=True, min_size=1, max_size=40))
    regular = draw(st.booleans())  # mostly the regular epoch: every figure a plain int
    figure = st.integers(-(2**63), 2**63 - 1) if regular else FIGURE
    explained = draw(st.sampled_from(["all", "none", "some"]))
    shared = draw(st.lists(NAMES, unique=True))
    rows = []
    for i in indices:
        has = explained == "all" or (explained == "some" and draw(st.booleans()))
        names = shared if regular else draw(st.lists(NAMES, unique=True))
        rows.append(
            ValidatorEpochRow(
                validator_index=i,
                reward_gwei=draw(figure),
                components_gwei=dict.fromkeys(names, draw(figure)) if has else None,
                residual_gwei=draw(figure) if has else None,
                attestation_included=draw(
                    st.none() | st.booleans() if regular else st.none() | st.booleans() | st.just(1)
                ),
                proposals=draw(st.integers(0, 32)),
                proposals_missed=draw(st.integers(0, 32)),
            )
        )
    merged = draw(st.none() | st.tuples(st.integers(0, 9), st.integers(10, 20)))
    el = draw(st.none() | st.integers(0, 2**80))
    return EpochSettlementInput(draw(st.integers(0, 2**40)), 7, el, tuple(rows), merged=merged)


@settings(max_examples=400, deadline=None)
@given(inputs())
def test_the_fast_path_writes_the_same_bytes_and_digest(inp: EpochSettlementInput) -> None:
    columns = read_columns(inp.validators)
    assert settle_digest(inp, columns) == inp.digest()
    if columns is not None:
        assert split_columns(columns) == split(inp.validators)


@settings(max_examples=200, deadline=None)
@given(inputs(), st.integers(1, 7))
def test_hashed_in_slices_the_digest_is_the_same(inp: EpochSettlementInput, rows: int) -> None:
    """A pool larger than a slice is hashed piece by piece: the same digest as the whole text."""
    columns = read_columns(inp.validators)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("stakepool.ledger.store.settle_digest.ROWS_PER_SLICE", rows)
        assert settle_digest(inp, columns) == inp.digest()


def test_a_regular_epoch_takes_the_fast_path_in_any_order() -> None:
    rows = [
        ValidatorEpochRow(i, 10 * i - 40, {"source": i, "head": -i}, i % 3, i % 2 == 0, i % 2, 0)
        for i in (9, 2, 7, 0, 4)
    ] + [
        ValidatorEpochRow(5, -6, {"source": 0, "head": 0}, 0, None, 0, 0)  # exited: not judged
    ]
    inp = EpochSettlementInput(5, 1, None, tuple(rows))
    columns = read_columns(rows)
    assert columns is not None
    assert columns.index.tolist() == [0, 2, 4, 5, 7, 9]
    assert split_columns(columns) == split(rows)
    assert settle_digest(inp, columns) == inp.digest()


def test_what_the_columns_cannot_say_exactly_takes_the_rows_path() -> None:
    base = ValidatorEpochRow(3, 5, {"source": 5}, 0, True, 0, 0)
    other = ValidatorEpochRow(4, 6, {"source": 6}, 0, False, 1, 0)
    assert read_columns([base, other]) is not None
    for odd in (
        replace(other, reward_gwei=2**64 - 1),  # past 64 bits
        replace(other, proposals=True),  # a bool where the digest has a number
        replace(other, attestation_included=1),  # not a bool: the digest says 1, not true
        replace(other, components_gwei=None, residual_gwei=None),  # explained in part
        replace(other, components_gwei={"target": 6}),  # other names
        replace(other, components_gwei={"source": 6.0}),  # not an integer
    ):
        assert read_columns([base, odd]) is None, odd
    assert read_columns([]) is None
