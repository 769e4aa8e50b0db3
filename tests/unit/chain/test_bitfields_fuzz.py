"""Fuzzing the SSZ bitfield decoders: any string (and any committee layout) either decodes to what
it claims or raises ``BitfieldError`` — never an ``IndexError``, ``TypeError`` or a bare ``ValueError``."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakepool.chain.bitfields import (
    BitfieldError,
    attesting_indices,
    bitlist_length,
    committee_attesters,
    decode_bitlist,
    decode_bitvector,
    encode_bitlist,
    sync_participation,
)

_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_HEXISH = st.one_of(
    st.binary(max_size=40).map(lambda b: "0x" + b.hex()),
    st.text(alphabet="0x123456789abcdefABCDEF g\u00e9", max_size=60),
    st.text(max_size=30),
    st.sampled_from(["", "0x", "0x0", "0x00", "0x01", "0xff", "0x 01", "0X01", "0x٠١"]),
)
_COMMITTEES = st.dictionaries(
    st.integers(min_value=0, max_value=70),
    st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=20),
    max_size=6,
)


@_FUZZ
@given(_HEXISH)
def test_bitlists(text: str) -> None:
    try:
        bits = decode_bitlist(text)
    except BitfieldError:
        return
    assert len(bits) == bitlist_length(text)
    assert decode_bitlist(encode_bitlist(bits)) == bits


@_FUZZ
@given(_HEXISH, st.integers(min_value=0, max_value=600))
def test_bitvectors(text: str, length: int) -> None:
    try:
        bits = decode_bitvector(text, length)
    except BitfieldError:
        return
    assert len(bits) == length


@_FUZZ
@given(_HEXISH, _HEXISH, _COMMITTEES, st.sampled_from([4, 8, 64]))
def test_electra_aggregates(
    agg: str, committee_bits: str, committees: dict[int, list[int]], width: int
) -> None:
    try:
        named = attesting_indices(agg, committee_bits, committees, width)
    except BitfieldError:
        return
    members = {v for c in committees.values() for v in c}
    assert set(named) <= members


@_FUZZ
@given(_HEXISH, st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=40))
def test_single_committee_and_sync_aggregates(agg: str, members: list[int]) -> None:
    with contextlib.suppress(BitfieldError):
        assert set(committee_attesters(agg, members)) <= set(members)
    try:
        seats = sync_participation(agg, members)
    except BitfieldError:
        return
    assert [v for v, _on in seats] == members
