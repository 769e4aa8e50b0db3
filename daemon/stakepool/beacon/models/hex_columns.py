"""Columns of fixed-width hex values (pubkeys, withdrawal credentials, roots), checked whole.

A validators answer carries each validator's pubkey (48 bytes) and withdrawal credentials (32
bytes) as ``0x`` hex text. Kept as Python strings they cost ~260 bytes per validator (26 MB at
100,000, for every answer the daemon holds); ``HexColumn`` keeps the bytes themselves, one
``bytes`` object for the column (8 MB), and gives each value back as the same lower-case text
when it is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np


class Refused(Exception):
    """The fast path will not vouch for the answer; the slow path says why."""


_HEX_DIGIT = np.zeros(256, dtype=np.bool_)
_HEX_DIGIT[[ord(c) for c in "0123456789abcdefABCDEF"]] = True
_UPPER = np.zeros(256, dtype=np.bool_)
_UPPER[[ord(c) for c in "ABCDEF"]] = True


def _digits(values: Sequence[str], nbytes: int) -> np.ndarray:
    """The hex digits of ``values``, one row each, after one check of the whole column: each
    ``0x`` and exactly ``2 * nbytes`` hex digits; ``Refused`` for anything else."""
    width, n = 2 + 2 * nbytes, len(values)
    if set(map(len, values)) != {width}:
        raise Refused
    try:
        flat = "".join(values).encode("ascii")
    except UnicodeEncodeError:
        raise Refused from None
    grid = np.frombuffer(flat, dtype=np.uint8).reshape(n, width)
    if not (
        (grid[:, 0] == ord("0")).all()
        and (grid[:, 1] == ord("x")).all()
        and _HEX_DIGIT[grid[:, 2:]].all()
    ):
        raise Refused
    return grid[:, 2:]


def hex_column(values: Sequence[str], nbytes: int) -> list[str]:
    """``0x``-prefixed hex of exactly ``nbytes`` each, lower-cased, as strings."""
    if not values:
        return []
    digits = _digits(values, nbytes)
    return [v.lower() for v in values] if _UPPER[digits].any() else list(values)


def packed_hex_column(values: Sequence[str], nbytes: int) -> HexColumn:
    """``hex_column``'s check, the values kept as their bytes."""
    if not values:
        return HexColumn(b"", nbytes)
    digits = _digits(values, nbytes)
    return HexColumn(bytes.fromhex(digits.tobytes().decode("ascii")), nbytes)


class HexColumn(Sequence[str]):
    """Values of ``nbytes`` bytes each, packed end to end; read back as lower-case ``0x`` hex."""

    __slots__ = ("data", "nbytes")

    def __init__(self, data: bytes, nbytes: int) -> None:
        if nbytes < 1 or len(data) % nbytes:
            raise ValueError(f"{len(data)} bytes are not values of {nbytes} bytes")
        self.data = data
        self.nbytes = nbytes

    @classmethod
    def of(cls, values: Sequence[str], nbytes: int) -> HexColumn:
        """From values already checked (a validated model's)."""
        return cls(bytes.fromhex("".join(v[2:] for v in values)), nbytes)

    def __len__(self) -> int:
        return len(self.data) // self.nbytes

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("HexColumn index out of range")
        w = self.nbytes
        return "0x" + self.data[index * w : index * w + w].hex()

    def __iter__(self) -> Iterator[str]:
        data, w = self.data, self.nbytes
        for start in range(0, len(data), w):
            yield "0x" + data[start : start + w].hex()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HexColumn):
            return self.nbytes == other.nbytes and self.data == other.data
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def __add__(self, other: HexColumn) -> HexColumn:
        if other.nbytes != self.nbytes:
            raise ValueError("columns of different widths")
        return HexColumn(self.data + other.data, self.nbytes)

    def __repr__(self) -> str:
        return f"HexColumn({len(self)} values of {self.nbytes} bytes)"
