"""Commitments to a final period's statements: leaf encoding, Merkle root and proofs. Pure.

Specified in docs/commitments.md precisely enough for an independent implementation:

* leaf bytes: ``0x01`` (encoding version) · ``u16`` length of the delegator id in UTF-8 · the id ·
  ``u64`` period · ``i128`` CL credit · ``u8`` EL known (1/0) · ``i128`` EL credit (0 when
  unknown) · ``i128`` fee · ``i128`` losses · ``i128`` closing balance; integers big-endian, signed
  ones two's complement, amounts in Gwei;
* the tree is RFC 9162's (Certificate Transparency v2, §2.1) over the leaves sorted by the id's
  UTF-8 bytes: leaf hash ``SHA-256(0x00 · leaf)``, node hash ``SHA-256(0x01 · left · right)``, the
  split at the largest power of two below the size; the empty tree's root is ``SHA-256("")``;
* a proof is RFC 9162's inclusion proof (the audit path, bottom up) with the leaf's index and the
  tree's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from stakepool.ledger.statements import Statement

LEAF_VERSION = 1
LEAF_ENCODING = "stakepool-leaf-v1"
_I128 = 1 << 127


class CommitmentError(ValueError):
    """A leaf that cannot be encoded or a proof that does not hold."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """What a leaf commits to (a statement's committed columns)."""

    delegator: str
    period: int
    cl_credit_gwei: int
    el_credit_gwei: int | None
    fee_gwei: int
    losses_gwei: int
    closing_balance_gwei: int

    @classmethod
    def of(cls, period: int, s: Statement) -> Leaf:
        return cls(
            s.delegator,
            period,
            s.cl_credit_gwei,
            s.el_credit_gwei,
            s.fee_gwei,
            s.losses_gwei,
            s.closing_balance_gwei,
        )

    def encode(self) -> bytes:
        ident = self.delegator.encode("utf-8")
        if not 1 <= len(ident) <= 0xFFFF:
            raise CommitmentError(f"delegator id of {len(ident)} bytes cannot be encoded")
        if not 0 <= self.period < 1 << 64:
            raise CommitmentError(f"period {self.period} is not a uint64")
        parts = [
            bytes([LEAF_VERSION]),
            len(ident).to_bytes(2, "big"),
            ident,
            self.period.to_bytes(8, "big"),
            _i128(self.cl_credit_gwei),
            bytes([0 if self.el_credit_gwei is None else 1]),
            _i128(self.el_credit_gwei or 0),
            _i128(self.fee_gwei),
            _i128(self.losses_gwei),
            _i128(self.closing_balance_gwei),
        ]
        return b"".join(parts)

    def hash(self) -> bytes:
        return leaf_hash(self.encode())


def _i128(value: int) -> bytes:
    if not -_I128 <= value < _I128:
        raise CommitmentError(f"amount {value} does not fit a signed 128-bit integer")
    return value.to_bytes(16, "big", signed=True)


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n ≥ 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_of(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 Merkle tree hash of the leaf hashes, in order."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    level = list(hashes)
    return _mth(level, 0, len(level))


def _mth(hashes: list[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return hashes[lo]
    k = _split(hi - lo)
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 audit path of leaf ``index``, bottom up."""
    if not 0 <= index < len(hashes):
        raise CommitmentError(f"leaf {index} is not in a tree of {len(hashes)}")
    level = list(hashes)
    path: list[bytes] = []

    def walk(m: int, lo: int, hi: int) -> None:
        if hi - lo == 1:
            return
        k = _split(hi - lo)
        if m < k:
            walk(m, lo, lo + k)
            path.append(_mth(level, lo + k, hi))
        else:
            walk(m - k, lo + k, hi)
            path.append(_mth(level, lo, lo + k))

    walk(index, 0, len(level))
    return path


def root_from_proof(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root that ``path`` proves for the leaf hash ``leaf``."""
    if not 0 <= index < size:
        raise CommitmentError(f"leaf index {index} is outside a tree of {size}")
    fn, sn = index, size - 1
    result = leaf
    for sibling in path:
        if sn == 0:
            raise CommitmentError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CommitmentError("the proof is shorter than the tree is deep")
    return result


def sort_key(delegator: str) -> bytes:
    return delegator.encode("utf-8")


@dataclass(frozen=True, slots=True)
class PeriodTree:
    """A period's leaves sorted by id, their hashes, and the root."""

    leaves: tuple[Leaf, ...]
    hashes: tuple[bytes, ...]
    root: bytes

    def index_of(self, delegator: str) -> int | None:
        for i, leaf in enumerate(self.leaves):
            if leaf.delegator == delegator:
                return i
        return None


def period_tree(period: int, statements: Sequence[Statement]) -> PeriodTree:
    leaves = tuple(
        sorted((Leaf.of(period, s) for s in statements), key=lambda x: sort_key(x.delegator))
    )
    hashes = tuple(leaf.hash() for leaf in leaves)
    return PeriodTree(leaves, hashes, root_of(hashes))
