"""Pubkeys and credentials kept as bytes read back exactly as the checked text would."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon.models.hex_columns import HexColumn, Refused, hex_column, packed_hex_column


def _text(raw: bytes, upper: bool) -> str:
    digits = raw.hex()
    return "0x" + (digits.upper() if upper else digits)


_values = st.lists(st.tuples(st.binary(min_size=4, max_size=4), st.booleans()), max_size=12)


@given(_values, st.integers(-15, 15), st.integers(-15, 15))
def test_a_packed_column_reads_as_the_checked_strings(
    values: list[tuple[bytes, bool]], start: int, stop: int
) -> None:
    texts = [_text(raw, upper) for raw, upper in values]
    packed = packed_hex_column(texts, 4)
    expected = hex_column(texts, 4)  # lower-cased, checked
    assert list(packed) == expected
    assert packed == expected
    assert len(packed) == len(expected)
    assert packed[start:stop] == expected[start:stop]
    for i in range(-len(expected), len(expected)):
        assert packed[i] == expected[i]
    with pytest.raises(IndexError):
        packed[len(expected)]
    assert packed + packed == expected + expected
    assert HexColumn.of(expected, 4) == packed


@pytest.mark.parametrize(
    "bad",
    [
        ["0x0102030"],  # short
        ["0x010203040"],  # long
        ["1x01020304"],
        ["0x0102030g"],
        ["0x01020304", "0x0102030\u0664"],  # a non-ASCII digit
    ],
)
def test_a_bad_value_is_refused_as_the_text_column_refuses_it(bad: list[str]) -> None:
    with pytest.raises(Refused):
        hex_column(bad, 4)
    with pytest.raises(Refused):
        packed_hex_column(bad, 4)


def test_a_packed_pubkey_column_is_a_third_of_the_strings() -> None:
    texts = [_text(i.to_bytes(48, "big"), False) for i in range(1000)]
    packed = packed_hex_column(texts, 48)
    strings = sum(sys.getsizeof(t) for t in texts) + sys.getsizeof(texts)
    assert sys.getsizeof(packed.data) * 3 < strings
