"""Bitfield decoding: SSZ bitlists, bitvectors, Electra multi-committee aggregates, sync bits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.chain.bitfields import (
    BitfieldError,
    attesting_indices,
    bitlist_length,
    committee_attesters,
    decode_bitlist,
    decode_bitvector,
    encode_bitlist,
    encode_bitvector,
    sync_participation,
)


def test_bitlist_delimiter_is_not_data() -> None:
    # 0x1f = 0b00011111: four members all set, delimiter at bit 4 (Lodestar devnet sample).
    assert decode_bitlist("0x1f") == [True, True, True, True]
    # 0x0d = 0b00001101: three members, bits 0 and 2 set.
    assert decode_bitlist("0x0d") == [True, False, True]
    # Exactly 8 members: the delimiter moves to a byte of its own.
    assert decode_bitlist("0x8101") == [True, False, False, False, False, False, False, True]
    assert bitlist_length("0x01") == 0


@pytest.mark.parametrize("bad", ["0x", "0x00", "0x0100", "1f", "0xzz", ""])
def test_bitlist_without_delimiter_or_hex_is_rejected(bad: str) -> None:
    with pytest.raises(BitfieldError):
        decode_bitlist(bad)


def test_bitvector_fixed_length() -> None:
    assert decode_bitvector("0x05", 4) == [True, False, True, False]
    with pytest.raises(BitfieldError, match="needs 1 bytes"):
        decode_bitvector("0x0500", 4)
    with pytest.raises(BitfieldError, match="beyond its length"):
        decode_bitvector("0x10", 4)


@given(st.lists(st.booleans(), max_size=300))
def test_bitlist_round_trip(bits: list[bool]) -> None:
    assert decode_bitlist(encode_bitlist(bits)) == bits


@given(st.lists(st.booleans(), min_size=1, max_size=600))
def test_bitvector_round_trip(bits: list[bool]) -> None:
    assert decode_bitvector(encode_bitvector(bits), len(bits)) == bits


def _committee_bits(selected: set[int], n: int = 64) -> str:
    return encode_bitvector([i in selected for i in range(n)])


def test_electra_aggregate_across_three_committees() -> None:
    committees = {0: [10, 11, 12], 2: [20, 21], 5: [50, 51, 52, 53], 7: [70]}
    # Committees 0, 2 and 5 selected: bits are their concatenation in ascending index order.
    bits = [True, False, True] + [False, True] + [True, True, False, True]
    got = attesting_indices(encode_bitlist(bits), _committee_bits({0, 2, 5}), committees)
    assert got == [10, 12, 21, 50, 51, 53]


def test_electra_aggregate_order_is_by_committee_index_not_mapping_order() -> None:
    committees = {3: [30, 31], 1: [10]}
    bits = [True] + [False, True]  # committee 1 first, then 3
    assert attesting_indices(encode_bitlist(bits), _committee_bits({1, 3}), committees) == [10, 31]


def test_electra_aggregate_length_must_match_committees() -> None:
    committees = {0: [1, 2, 3], 1: [4, 5]}
    with pytest.raises(BitfieldError, match="hold 5"):
        attesting_indices(encode_bitlist([True] * 6), _committee_bits({0, 1}), committees)
    with pytest.raises(BitfieldError, match="shorter"):
        attesting_indices(encode_bitlist([True] * 4), _committee_bits({0, 1}), committees)
    with pytest.raises(BitfieldError, match="committee 9"):
        attesting_indices(encode_bitlist([True] * 3), _committee_bits({0, 9}), committees)


def test_minimal_preset_committee_bits_width() -> None:
    committees = {0: [1, 2], 3: [7, 8]}
    got = attesting_indices(
        encode_bitlist([False, True, True, False]),
        _committee_bits({0, 3}, n=4),
        committees,
        max_committees_per_slot=4,
    )
    assert got == [2, 7]


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=64),
    data=st.data(),
)
def test_electra_aggregate_recovers_exactly_who_signed(
    sizes: list[int], data: st.DataObject
) -> None:
    committees: dict[int, list[int]] = {}
    next_index = 0
    for ci, size in enumerate(sizes):
        committees[ci] = list(range(next_index, next_index + size))
        next_index += size
    selected = sorted(data.draw(st.sets(st.sampled_from(range(len(sizes))), min_size=1)))
    signed: list[int] = []
    bits: list[bool] = []
    for ci in selected:
        for v in committees[ci]:
            on = data.draw(st.booleans())
            bits.append(on)
            if on:
                signed.append(v)
    got = attesting_indices(encode_bitlist(bits), _committee_bits(set(selected)), committees)
    assert got == signed


def test_pre_electra_single_committee() -> None:
    assert committee_attesters("0x1d", [5, 6, 7, 8]) == [5, 7, 8]
    with pytest.raises(BitfieldError):
        committee_attesters("0x1d", [5, 6, 7])


def test_sync_aggregate_seats_with_duplicates() -> None:
    committee = [4, 9, 4, 2]  # validator 4 holds two seats
    seats = sync_participation(encode_bitvector([True, False, False, True]), committee)
    assert seats == [(4, True), (9, False), (4, False), (2, True)]


def test_sync_aggregate_mainnet_width() -> None:
    committee = list(range(512))
    bits = [i % 3 == 0 for i in range(512)]
    hex_bits = encode_bitvector(bits)
    assert len(hex_bits) == 2 + 128  # 64 bytes
    signed = [v for v, on in sync_participation(hex_bits, committee) if on]
    assert signed == [i for i in range(512) if i % 3 == 0]
