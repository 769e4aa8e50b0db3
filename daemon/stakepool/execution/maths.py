"""The EL reward of one proposal from its block and receipts (pure; accounting.md §5)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from stakepool.execution.types import ElReward, ExecBlock, Receipt


def priority_fees(block: ExecBlock, receipts: Iterable[Receipt]) -> int:
    """``Σ gasUsed × (effectiveGasPrice − baseFee)``: what the coinbase earns (the base fee burns).

    Raises ``ValueError`` unless there is exactly one receipt per transaction of the block."""
    by_hash = {r.transaction_hash: r for r in receipts}
    wanted = {tx.hash for tx in block.transactions}
    if set(by_hash) != wanted:
        missing = len(wanted - set(by_hash))
        extra = len(set(by_hash) - wanted)
        raise ValueError(
            f"receipts do not match block {block.number}: {missing} missing, {extra} foreign"
        )
    total = 0
    for tx in block.transactions:
        r = by_hash[tx.hash]
        tip = r.effective_gas_price - block.base_fee_per_gas
        if tip < 0:
            raise ValueError(f"transaction {tx.hash} paid less than the base fee")
        total += r.gas_used * tip
    return total


def el_reward(
    block: ExecBlock, receipts: Iterable[Receipt], fee_recipients: Collection[str] = ()
) -> ElReward:
    """What the pool earned on the EL from this block, in wei.

    ``fee_recipients``: the pool's fee-recipient addresses. If the coinbase is one of them, the
    reward is the priority fees. Otherwise the block was built by a builder (MEV-boost) and the
    reward is the value its coinbase sent to our fee recipients (conventionally the last
    transaction; every successful one is counted). With no ``fee_recipients`` configured, a
    last transaction from the coinbase carrying value is taken as the builder's payment to the
    proposer's fee recipient (its ``to``), else the coinbase is taken as ours.
    """
    receipts = tuple(receipts)
    fees = priority_fees(block, receipts)
    ok = {r.transaction_hash for r in receipts if r.status == 1}
    ours = {a.lower() for a in fee_recipients}
    coinbase = block.miner

    def reward(kind: str, amount: int, recipient: str) -> ElReward:
        return ElReward(
            kind=kind,
            amount_wei=amount,
            fee_recipient=recipient,
            priority_fees_wei=fees,
            coinbase=coinbase,
            block_number=block.number,
            block_hash=block.hash,
        )

    if not ours:
        last = block.transactions[-1] if block.transactions else None
        if (
            last is not None
            and last.sender == coinbase
            and last.to is not None
            and last.to != coinbase
            and last.value_wei > 0
            and last.hash in ok
        ):
            return reward("mev_payment", last.value_wei, last.to)
        return reward("priority_fees", fees, coinbase)
    if coinbase in ours:
        return reward("priority_fees", fees, coinbase)
    payments = [
        tx
        for tx in block.transactions
        if tx.sender == coinbase and tx.to in ours and tx.hash in ok and tx.value_wei > 0
    ]
    if not payments:
        return reward("none", 0, sorted(ours)[0])
    return reward("mev_payment", sum(tx.value_wei for tx in payments), payments[-1].to or "")
