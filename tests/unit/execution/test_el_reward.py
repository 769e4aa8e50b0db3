"""The EL reward of a proposal from recorded-shape blocks and receipts (accounting.md §5)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stakepool.execution.maths import el_reward, priority_fees
from stakepool.execution.rpc import parse_block, parse_receipt, quantity

FIXTURES = Path(__file__).parents[2] / "fixtures" / "execution"
POOL = "0x388c818ca8b9251b393131c08a736a67ccb19297"
BUILDER = "0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5"
MEV_PAYMENT = 56_000_000_000_000_000  # 0.056 ETH, the §9 proposal
MEV_BLOCK_TIPS = 143_211 * 2 * 10**9 + 98_450 * 10**9 + 612_004 * 15 * 10**8
LOCAL_BLOCK_TIPS = 201_337 * 3 * 10**9


def _load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _case(name: str) -> tuple[Any, Any]:
    return _load(f"block_{name}"), _load(f"receipts_{name}")


def _parsed(name: str) -> tuple[Any, Any]:
    block, receipts = _case(name)
    return parse_block(block), [parse_receipt(r) for r in receipts]


def test_mev_boost_block_pays_the_builders_transfer_not_the_priority_fees() -> None:
    block, receipts = _parsed("mev")
    reward = el_reward(block, receipts, [POOL])
    assert reward.kind == "mev_payment"
    assert reward.amount_wei == MEV_PAYMENT
    assert reward.fee_recipient == POOL
    assert reward.coinbase == BUILDER
    assert reward.priority_fees_wei == MEV_BLOCK_TIPS
    assert reward.block_number == 21_514_236


def test_without_configured_recipients_the_last_builder_transfer_is_recognised() -> None:
    block, receipts = _parsed("mev")
    reward = el_reward(block, receipts)
    assert (reward.kind, reward.amount_wei, reward.fee_recipient) == (
        "mev_payment",
        MEV_PAYMENT,
        POOL,
    )


def test_local_block_earns_the_priority_fees() -> None:
    block, receipts = _parsed("local")
    for recipients in ([POOL], [POOL.upper().replace("0X", "0x")], []):
        reward = el_reward(block, receipts, recipients)
        assert reward.kind == "priority_fees"
        assert reward.amount_wei == LOCAL_BLOCK_TIPS
        assert reward.fee_recipient == POOL


def test_a_builder_that_paid_someone_else_earned_us_nothing() -> None:
    block, receipts = _parsed("mev")
    reward = el_reward(block, receipts, ["0x" + "12" * 20])
    assert (reward.kind, reward.amount_wei) == ("none", 0)


def test_a_reverted_payment_pays_nothing() -> None:
    block, raw_receipts = _case("mev")
    raw_receipts = copy.deepcopy(raw_receipts)
    raw_receipts[-1]["status"] = "0x0"
    reward = el_reward(parse_block(block), [parse_receipt(r) for r in raw_receipts], [POOL])
    assert (reward.kind, reward.amount_wei) == ("none", 0)


def test_priority_fees_equal_total_paid_minus_burnt() -> None:
    """Σ gasUsed·effectiveGasPrice − block.gasUsed·baseFee (§5.1), the same sum another way."""
    block, receipts = _parsed("mev")
    paid = sum(r.gas_used * r.effective_gas_price for r in receipts)
    assert priority_fees(block, receipts) == paid - block.gas_used * block.base_fee_per_gas


def test_missing_or_foreign_receipts_are_refused() -> None:
    block, receipts = _parsed("mev")
    with pytest.raises(ValueError, match="1 missing"):
        priority_fees(block, receipts[:-1])
    _, other = _parsed("local")
    with pytest.raises(ValueError, match="foreign"):
        priority_fees(block, [*receipts, other[0]])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("number", "0x01", "block.number: expected a hex quantity"),
        ("number", 21, "block.number: expected a hex quantity"),
        ("miner", "0x1234", "block.miner: expected a 20-byte address"),
        ("hash", None, "block.hash: expected a 32-byte hash"),
    ],
)
def test_malformed_blocks_name_the_field(field: str, value: object, message: str) -> None:
    block = copy.deepcopy(_load("block_mev"))
    block[field] = value
    with pytest.raises(ValueError, match=message):
        parse_block(block)


def test_transaction_hashes_only_are_refused_with_a_hint() -> None:
    block = copy.deepcopy(_load("block_mev"))
    block["transactions"] = [t["hash"] for t in block["transactions"]]
    with pytest.raises(ValueError, match="full=true"):
        parse_block(block)


def test_quantities() -> None:
    assert quantity("0x0", "x") == 0
    assert quantity("0xc6f3b40b6c0000", "x") == MEV_PAYMENT
    for bad in ("0x", "12", "0x00", "0xg", "-0x1"):
        with pytest.raises(ValueError, match="hex quantity"):
            quantity(bad, "x")
