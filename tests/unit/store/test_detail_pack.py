"""The packed per-validator detail gives back exactly what it was given (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakepool.store.detail_pack import (
    DetailEpoch,
    DetailRow,
    PackedEpoch,
    PackError,
    pack,
    split,
    unpack,
)

# Beyond 64 bits on purpose: the store holds any uint64, and sums or penalties may be negative.
BIG = st.integers(min_value=-(2**70), max_value=2**70)
SMALL = st.integers(min_value=-300, max_value=300)
FIGURE = st.one_of(SMALL, BIG, st.sampled_from([0, 2**63 - 1, -(2**63), 2**63, 2**64 - 1]))
NAMES = st.sampled_from(["source", "target", "head", "inactivity", "sync", "correlation_penalty"])


@st.composite
def epochs(draw: st.DrawFn) -> list[DetailRow]:
    indices = draw(st.lists(st.integers(0, 2**40), unique=True, max_size=60))
    uniform = draw(st.booleans())  # the usual case: every validator has the same names
    shared = draw(st.lists(NAMES, unique=True, min_size=1))
    rows = []
    for i in indices:
        names = shared if uniform else draw(st.lists(NAMES, unique=True))
        components = draw(st.none() | st.fixed_dictionaries(dict.fromkeys(names, FIGURE)))
        rows.append(
            DetailRow(
                validator_index=i,
                reward_gwei=draw(FIGURE),
                components_gwei=components,
                residual_gwei=draw(st.none() | FIGURE),
                attestation_included=draw(st.none() | st.booleans()),
                proposals=draw(st.integers(0, 32)),
                proposals_missed=draw(st.integers(0, 32)),
            )
        )
    return rows


@settings(max_examples=300, deadline=None)
@given(epochs())
def test_every_figure_comes_back_exactly(rows: list[DetailRow]) -> None:
    ordered = sorted(rows, key=lambda r: r.validator_index)
    blob = pack(rows)
    assert unpack(blob) == ordered
    packed = PackedEpoch(blob)
    assert packed.count == len(rows)
    for r in ordered:
        i = packed.position(r.validator_index)
        assert i is not None
        assert packed.row(i) == r
    absent = max((r.validator_index for r in rows), default=0) + 1
    assert packed.position(absent) is None
    # As the ledger stores it: money and duties apart from the explanation, read back as one.
    money, explanation = split(rows)
    assert list(DetailEpoch(money, explanation).rows()) == ordered
    assert all(r.components_gwei is None and r.residual_gwei is None for r in unpack(money))


def test_a_missing_component_is_not_a_zero() -> None:
    rows = [
        DetailRow(1, 5, {"head": 0, "source": 5}, None, None, 0, 0),
        DetailRow(2, 5, {"source": 5}, 0, True, 1, 0),
        DetailRow(3, 0, None, None, False, 0, 1),
    ]
    assert unpack(pack(rows)) == rows


def test_rows_it_cannot_hold_are_refused() -> None:
    with pytest.raises(PackError, match="twice"):
        pack([DetailRow(1, 1, None, None, None, 0, 0), DetailRow(1, 2, None, None, None, 0, 0)])
    with pytest.raises(PackError, match="column reward"):
        pack([DetailRow(1, 1.5, None, None, None, 0, 0)])  # type: ignore[arg-type]
    with pytest.raises(PackError, match="not a packed"):
        PackedEpoch(b"{}")
    with pytest.raises(PackError, match="corrupt"):
        PackedEpoch(b"SPD1garbage")
