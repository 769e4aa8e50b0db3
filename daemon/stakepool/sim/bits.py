"""SSZ bitfields from numpy boolean arrays (little-endian bit order within each byte)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def bitvector_hex(bits: npt.NDArray[np.bool_]) -> str:
    return "0x" + np.packbits(bits.astype(np.bool_), bitorder="little").tobytes().hex()


def bitlist_hex(bits: npt.NDArray[np.bool_]) -> str:
    """A bitlist carries its length as a delimiter bit right after the last data bit."""
    with_delimiter = np.concatenate([bits.astype(np.bool_), np.ones(1, dtype=np.bool_)])
    return bitvector_hex(with_delimiter)
