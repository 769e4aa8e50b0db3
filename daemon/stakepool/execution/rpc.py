"""Parsing JSON-RPC answers (pure): hex quantities, blocks, receipts, with errors naming the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stakepool.execution.types import ExecBlock, ExecTransaction, Receipt

_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
_DATA20 = re.compile(r"0x[0-9a-fA-F]{40}")
_DATA32 = re.compile(r"0x[0-9a-fA-F]{64}")


class ExecutionError(Exception):
    """An execution-layer call that failed or answered something unusable."""

    def __init__(self, method: str, message: str, *, url: str | None = None) -> None:
        where = f" at {url}" if url else ""
        super().__init__(f"{method}{where}: {message}")
        self.method = method
        self.url = url


class MethodNotFound(ExecutionError):
    """JSON-RPC error -32601: the node does not offer this method."""


def quantity(value: object, where: str, *, bits: int = 256) -> int:
    """A JSON-RPC QUANTITY: ``0x`` + hex without leading zeros (``0x0`` for zero), bounded where
    it enters: values, prices and fees are EVM words (uint256), numbers and gas uint64. Hex has
    no digit limit in ``int()``, so an unbounded one would carry a 40,000-bit "fee" into the
    ledger's arithmetic."""
    if not isinstance(value, str) or len(value) > 2 + bits // 4 or not _QUANTITY.fullmatch(value):
        raise ValueError(
            f"{where}: expected a hex quantity of at most {bits} bits, got {_short(value)}"
        )
    return int(value, 16)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _address(value: object, where: str) -> str:
    if not isinstance(value, str) or not _DATA20.fullmatch(value):
        raise ValueError(f"{where}: expected a 20-byte address, got {_short(value)}")
    return value.lower()


def _hash(value: object, where: str) -> str:
    if not isinstance(value, str) or not _DATA32.fullmatch(value):
        raise ValueError(f"{where}: expected a 32-byte hash, got {_short(value)}")
    return value.lower()


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ValueError(f"{where}.{key}: missing")
    return obj[key]


def parse_block(obj: object) -> ExecBlock:
    """``eth_getBlockByHash(hash, true)``; a block without ``baseFeePerGas`` is pre-London."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"block: expected an object, got {type(obj).__name__}")
    txs = _field(obj, "transactions", "block")
    if not isinstance(txs, list):
        raise ValueError("block.transactions: expected a list")
    parsed: list[ExecTransaction] = []
    for i, tx in enumerate(txs):
        where = f"block.transactions[{i}]"
        if not isinstance(tx, Mapping):
            raise ValueError(f"{where}: expected a transaction object (ask with full=true)")
        to = tx.get("to")
        parsed.append(
            ExecTransaction(
                hash=_hash(_field(tx, "hash", where), f"{where}.hash"),
                sender=_address(_field(tx, "from", where), f"{where}.from"),
                to=None if to is None else _address(to, f"{where}.to"),
                value_wei=quantity(_field(tx, "value", where), f"{where}.value"),
            )
        )
    return ExecBlock(
        number=quantity(_field(obj, "number", "block"), "block.number", bits=64),
        hash=_hash(_field(obj, "hash", "block"), "block.hash"),
        miner=_address(_field(obj, "miner", "block"), "block.miner"),
        base_fee_per_gas=quantity(obj.get("baseFeePerGas", "0x0"), "block.baseFeePerGas"),
        gas_used=quantity(_field(obj, "gasUsed", "block"), "block.gasUsed", bits=64),
        transactions=tuple(parsed),
    )


def parse_receipt(obj: object, where: str = "receipt") -> Receipt:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(obj).__name__}")
    return Receipt(
        transaction_hash=_hash(_field(obj, "transactionHash", where), f"{where}.transactionHash"),
        gas_used=quantity(_field(obj, "gasUsed", where), f"{where}.gasUsed", bits=64),
        effective_gas_price=quantity(
            _field(obj, "effectiveGasPrice", where), f"{where}.effectiveGasPrice"
        ),
        status=quantity(obj.get("status", "0x1"), f"{where}.status", bits=8),
    )
