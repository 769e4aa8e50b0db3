"""The commitment as docs/commitments.md specifies it: leaf bytes, RFC 9162 tree, proofs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]  # a dev dependency's dependency; no stubs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.ledger.commitments import (
    CommitmentError,
    Leaf,
    inclusion_proof,
    leaf_hash,
    root_from_proof,
    root_of,
)
from stakepool.ledger.outbox_events import committed_hook
from stakepool.ledger.statement_format import eth, leaf_from_json, leaf_json
from stakepool.ledger.statement_queries import PeriodCommitment

amounts = st.integers(-(2**127), 2**127 - 1)
leaves = st.builds(
    Leaf,
    delegator=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@+-",
        min_size=1,
        max_size=128,
    ),
    period=st.integers(0, 2**64 - 1),
    cl_credit_gwei=amounts,
    el_credit_gwei=st.none() | amounts,
    fee_gwei=amounts,
    losses_gwei=amounts,
    closing_balance_gwei=amounts,
)


def _spec_bytes(leaf: Leaf) -> bytes:
    """The leaf encoding as the docs state it, written independently with ``struct``."""
    ident = leaf.delegator.encode()

    def i128(v: int) -> bytes:
        return struct.pack(">QQ", (v >> 64) & (2**64 - 1), v & (2**64 - 1))

    el_known = leaf.el_credit_gwei is not None
    return (
        struct.pack(">BH", 1, len(ident))
        + ident
        + struct.pack(">Q", leaf.period)
        + i128(leaf.cl_credit_gwei)
        + struct.pack(">B", int(el_known))
        + i128(leaf.el_credit_gwei or 0)
        + i128(leaf.fee_gwei)
        + i128(leaf.losses_gwei)
        + i128(leaf.closing_balance_gwei)
    )


@given(leaves)
def test_leaf_bytes_follow_the_documented_layout(leaf: Leaf) -> None:
    assert leaf.encode() == _spec_bytes(leaf)
    assert leaf.hash() == hashlib.sha256(b"\x00" + _spec_bytes(leaf)).digest()
    assert leaf_from_json(leaf_json(leaf)) == leaf


def _naive_root(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written from the RFC's definition (k = largest power of 2 < n)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    left, right = _naive_root(hashes[:k]), _naive_root(hashes[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


@given(st.integers(0, 70))
def test_root_is_rfc9162_and_every_proof_verifies(n: int) -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    root = root_of(hashes)
    assert root == _naive_root(hashes)
    for i in range(n):
        path = inclusion_proof(hashes, i)
        assert root_from_proof(hashes[i], i, n, path) == root
        # Another leaf, another position or a cut proof does not give the root.
        other = leaf_hash(b"forged")
        assert root_from_proof(other, i, n, path) != root
        if n > 1:
            wrong = (i + 1) % n
            with contextlib.suppress(CommitmentError):
                assert root_from_proof(hashes[i], wrong, n, path) != root
            if path:
                with pytest.raises(CommitmentError):
                    root_from_proof(hashes[i], i, n, path[:-1])


def test_bounds_are_refused() -> None:
    with pytest.raises(CommitmentError):
        Leaf("a", -1, 0, None, 0, 0, 0).encode()
    with pytest.raises(CommitmentError):
        Leaf("a", 0, 2**127, None, 0, 0, 0).encode()
    with pytest.raises(CommitmentError):
        Leaf("", 0, 0, None, 0, 0, 0).encode()
    with pytest.raises(CommitmentError):
        inclusion_proof([], 0)


@given(st.integers(-(10**30), 10**30))
def test_eth_strings_are_exact(gwei: int) -> None:
    text = eth(gwei)
    whole, frac = text.lstrip("-").split(".")
    assert len(frac) == 9
    value = int(whole) * 10**9 + int(frac)
    assert (-value if text.startswith("-") else value) == gwei


def test_the_period_committed_event_validates_against_the_mqtt_schema() -> None:
    schema_file = Path(__file__).resolve().parents[3] / "deploy" / "mqtt" / "event.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    commitment = PeriodCommitment(225, 7, 1575, 1799, "ab" * 32, 3, "2026-01-01T00:00:00.000Z")
    (event,) = committed_hook("alpha", lambda: 1_764_000_000.0)(commitment)
    doc = json.loads(event.payload)
    assert event.kind == "period_committed"
    assert doc["data"]["root"] == "ab" * 32
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []
    doc["data"]["root"] = "not hex"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) != []
