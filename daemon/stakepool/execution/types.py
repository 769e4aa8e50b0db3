"""Execution-layer blocks, receipts and the EL reward of a proposal (amounts in wei, ``int``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExecTransaction:
    hash: str
    sender: str
    """``from``, lower-case."""
    to: str | None
    """``None`` for a contract creation."""
    value_wei: int


@dataclass(frozen=True, slots=True)
class ExecBlock:
    number: int
    hash: str
    miner: str
    """The coinbase (the payload's ``fee_recipient``), lower-case."""
    base_fee_per_gas: int
    gas_used: int
    transactions: tuple[ExecTransaction, ...]


@dataclass(frozen=True, slots=True)
class Receipt:
    transaction_hash: str
    gas_used: int
    effective_gas_price: int
    status: int
    """1 success, 0 reverted (a reverted transfer moved no value)."""


@dataclass(frozen=True, slots=True)
class ElReward:
    """The execution-layer income of one proposal, in wei (accounting.md §5)."""

    kind: str
    """``priority_fees`` (our address is the coinbase), ``mev_payment`` (a builder's coinbase paid
    our fee recipient), or ``none`` (a builder block that paid none of our fee recipients)."""
    amount_wei: int
    fee_recipient: str
    """The address credited (lower-case ``0x`` hex)."""
    priority_fees_wei: int
    """What the coinbase earned from priority fees, whoever it is (for cross-checks)."""
    coinbase: str
    block_number: int
    block_hash: str
