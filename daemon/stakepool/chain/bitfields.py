"""SSZ bitfields as the Beacon API shows them, and who they name.

A ``Bitlist`` carries its own length: the highest set bit of the last byte is a delimiter, not data.
A ``Bitvector`` has a fixed length known from the spec and no delimiter. Bits are little-endian
within each byte (bit ``i`` is ``byte[i // 8] >> (i % 8) & 1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class BitfieldError(ValueError):
    """A bitfield that cannot be what it claims to be."""


def _hex_bytes(hex_str: str) -> bytes:
    if not isinstance(hex_str, str) or not hex_str.startswith("0x"):
        raise BitfieldError(f"bitfield must be a 0x-prefixed hex string, got {hex_str!r}")
    try:
        return bytes.fromhex(hex_str[2:])
    except ValueError as exc:
        raise BitfieldError(f"bitfield is not valid hex: {hex_str!r}") from exc


def _bits(data: bytes, n: int) -> list[bool]:
    return [(data[i >> 3] >> (i & 7)) & 1 == 1 for i in range(n)]


def bitlist_length(hex_str: str) -> int:
    """The number of data bits in a bitlist (its delimiter excluded)."""
    data = _hex_bytes(hex_str)
    if not data or data[-1] == 0:
        raise BitfieldError("bitlist has no delimiter bit in its last byte")
    return (len(data) - 1) * 8 + data[-1].bit_length() - 1


def decode_bitlist(hex_str: str) -> list[bool]:
    data = _hex_bytes(hex_str)
    return _bits(data, bitlist_length(hex_str))


def decode_bitvector(hex_str: str, length: int) -> list[bool]:
    data = _hex_bytes(hex_str)
    if len(data) != (length + 7) // 8:
        raise BitfieldError(
            f"bitvector of {length} bits needs {(length + 7) // 8} bytes, got {len(data)}"
        )
    if length % 8 and data[-1] >> (length % 8):
        raise BitfieldError(f"bitvector of {length} bits has bits set beyond its length")
    return _bits(data, length)


def encode_bitvector(bits: Sequence[bool]) -> str:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i >> 3] |= 1 << (i & 7)
    return "0x" + out.hex()


def encode_bitlist(bits: Sequence[bool]) -> str:
    n = len(bits)
    out = bytearray(n // 8 + 1)
    for i, bit in enumerate(bits):
        if bit:
            out[i >> 3] |= 1 << (i & 7)
    out[n >> 3] |= 1 << (n & 7)
    return "0x" + out.hex()


def attesting_indices(
    aggregation_bits: str,
    committee_bits: str,
    committees: Mapping[int, Sequence[int]],
    max_committees_per_slot: int = 64,
) -> list[int]:
    """Validators named by an Electra on-chain aggregate (consensus-specs ``get_attesting_indices``).

    ``committees`` maps committee index → ordered members for the attestation's slot. The aggregate's
    ``aggregation_bits`` is the concatenation of the selected committees' bits in ascending committee
    index; its length must equal the sum of their sizes. ``committee_bits`` is a Bitvector of
    ``MAX_COMMITTEES_PER_SLOT`` bits (64 on every network so far; a node's spec tells).
    """
    agg = decode_bitlist(aggregation_bits)
    selected = decode_bitvector(committee_bits, max_committees_per_slot)
    out: list[int] = []
    offset = 0
    for ci, on in enumerate(selected):
        if not on:
            continue
        members = committees.get(ci)
        if members is None:
            raise BitfieldError(
                f"aggregate selects committee {ci}, which is not known for its slot"
            )
        if offset + len(members) > len(agg):
            raise BitfieldError("aggregation_bits is shorter than the selected committees")
        out.extend(v for pos, v in enumerate(members) if agg[offset + pos])
        offset += len(members)
    if offset != len(agg):
        raise BitfieldError(
            f"aggregation_bits has {len(agg)} bits but the selected committees hold {offset}"
        )
    return out


def committee_attesters(aggregation_bits: str, members: Sequence[int]) -> list[int]:
    """Validators named by a pre-Electra aggregate, whose bits cover one committee."""
    agg = decode_bitlist(aggregation_bits)
    if len(agg) != len(members):
        raise BitfieldError(
            f"aggregation_bits has {len(agg)} bits for a committee of {len(members)}"
        )
    return [v for v, on in zip(members, agg, strict=True) if on]


def sync_participation(
    sync_committee_bits: str, committee: Sequence[int]
) -> list[tuple[int, bool]]:
    """(validator, signed?) per sync-committee seat; a validator may hold several seats."""
    bits = decode_bitvector(sync_committee_bits, len(committee))
    return list(zip(committee, bits, strict=True))
