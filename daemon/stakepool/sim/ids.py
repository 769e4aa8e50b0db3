"""Deterministic identifiers: pubkeys, addresses, roots and signatures of the simulated chain.

A pubkey embeds its validator index, so a pubkey lookup is O(1) without a table; the remaining
bytes are a fixed mix of the index so keys do not look like counters.
"""

from __future__ import annotations

import hashlib

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_PUBKEY_TAG = "a5"


def _mix(i: int) -> str:
    x = (i * _GOLDEN) & _MASK64
    return f"{x:016x}"


def pubkey(index: int) -> str:
    """``0x`` + 96 hex: tag, the index in 8 bytes, then 39 bytes derived from it."""
    m = _mix(index)
    return f"0x{_PUBKEY_TAG}{index:016x}{m}{m}{m}{m}{m[:14]}"


def index_of_pubkey(key: str) -> int | None:
    """The validator index a pubkey names, or ``None`` if it is not one of ours."""
    k = key.lower()
    if len(k) != 98 or not k.startswith("0x" + _PUBKEY_TAG):
        return None
    try:
        index = int(k[4:20], 16)
    except ValueError:
        return None
    return index if pubkey(index) == k else None


def address(index: int) -> str:
    """The execution address a validator withdraws to (20 bytes)."""
    return f"0x{_mix(index)}{index:024x}"


def withdrawal_credentials(index: int, prefix: int) -> str:
    return f"0x{prefix:02x}{'00' * 11}{address(index)[2:]}"


def digest(*parts: object) -> str:
    """A 32-byte root from anything printable; the simulator's stand-in for hash_tree_root."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return "0x" + h


def signature(*parts: object) -> str:
    """A 96-byte stand-in signature (never verified by anyone)."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return "0x" + (h * 3)
