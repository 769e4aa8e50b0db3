"""The JSON-RPC parsers raise nothing but ``ValueError`` on any decoded JSON, and every quantity
they return is within its type (uint256 for values and prices, uint64 for numbers and gas)."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakepool.execution.rpc import parse_block, parse_receipt, quantity

_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_HEXISH = st.one_of(
    st.integers(min_value=0, max_value=2**300).map(hex),
    st.text(alphabet="0x123456789abcdefABCDEFg ", max_size=90),
    st.sampled_from(["0x", "0x0", "0x00", "0x" + "f" * 64, "0x1" + "0" * 64, "0x" + "a" * 40]),
)
_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), _HEXISH
)
_KEYS = st.sampled_from(
    [
        "number",
        "hash",
        "miner",
        "baseFeePerGas",
        "gasUsed",
        "transactions",
        "from",
        "to",
        "value",
        "transactionHash",
        "effectiveGasPrice",
        "status",
        "x",
    ]
)
_JSON: st.SearchStrategy[Any] = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=8),
    max_leaves=30,
)


@_FUZZ
@given(_JSON)
def test_parse_block_raises_only_value_error(obj: Any) -> None:
    with contextlib.suppress(ValueError):
        block = parse_block(obj)
        assert 0 <= block.number < 2**64
        assert 0 <= block.gas_used < 2**64
        assert 0 <= block.base_fee_per_gas < 2**256
        assert all(0 <= tx.value_wei < 2**256 for tx in block.transactions)


@_FUZZ
@given(_JSON)
def test_parse_receipt_raises_only_value_error(obj: Any) -> None:
    with contextlib.suppress(ValueError):
        receipt = parse_receipt(obj)
        assert 0 <= receipt.gas_used < 2**64
        assert 0 <= receipt.effective_gas_price < 2**256
        assert receipt.status < 2**8


@_FUZZ
@given(_LEAF, st.sampled_from([8, 64, 256]))
def test_quantity_is_bounded_by_its_bits(value: Any, bits: int) -> None:
    try:
        number = quantity(value, "q", bits=bits)
    except ValueError:
        return
    assert 0 <= number < 2**bits
