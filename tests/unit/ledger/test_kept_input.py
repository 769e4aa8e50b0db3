"""An input kept until final is packed; settled again, it must be the very input that was packed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stakepool.ledger.kept_input import KeptInput
from stakepool.ledger.settlement import EpochSettlementInput, ValidatorEpochRow

_gwei = st.integers(-(2**63), 2**63 - 1)
_components = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["source", "target", "head", "sync", "correlation_penalty"]), _gwei
    ),
)
_row = st.builds(
    ValidatorEpochRow,
    st.integers(0, 2**64 - 1),
    _gwei,
    _components,
    st.one_of(st.none(), _gwei),
    st.one_of(st.none(), st.booleans()),
    st.integers(0, 32),
    st.integers(0, 32),
)
_input = st.builds(
    EpochSettlementInput,
    st.integers(0, 2**40),
    _gwei,
    st.one_of(st.none(), st.integers(0, 2**80)),  # wei: beyond 64 bits is a real amount
    st.lists(_row, max_size=6).map(tuple),
    st.sampled_from(["", "sha256:ab"]),
    st.one_of(st.none(), st.tuples(st.integers(0, 9), st.integers(10, 19))),
)


@given(_input)
def test_an_input_unpacked_is_the_input_packed(inp: EpochSettlementInput) -> None:
    again = KeptInput.pack(inp).unpack()
    assert again == inp
    assert again.digest() == inp.digest()
    for mine, theirs in zip(again.validators, inp.validators, strict=True):
        # The ledger stores the components as they are ordered: the order must come back too.
        assert list((mine.components_gwei or {}).items()) == list(
            (theirs.components_gwei or {}).items()
        )


def test_rows_are_packed_small_and_a_figure_beyond_64_bits_is_kept_as_it_is() -> None:
    rows = tuple(
        ValidatorEpochRow(v, 9_261, {"source": 2_392, "target": 4_465, "head": 2_404}, 0, True)
        for v in range(10_000)
    )
    kept = KeptInput.pack(EpochSettlementInput(5, 92_610_000, None, rows))
    assert kept.packed_rows is not None
    assert len(kept.packed_rows) < 200_000  # ~4.5 MB of objects as rows
    assert kept.head.validators == ()
    huge = (ValidatorEpochRow(1, 2**70),)
    odd = KeptInput.pack(EpochSettlementInput(5, 2**70, None, huge))
    assert odd.packed_rows is None
    assert odd.unpack().validators == huge
