"""What the blocks and queues of one window say about balances (pure).

From the canonical blocks of epoch ``k`` (slot order) and the pending-deposit queues at both ends
of the window: withdrawals per validator, deposits per pubkey, who was slashed, who proposed, and
each block's sync-committee bits.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.state import PendingConsolidation, PendingDeposit
from stakepool.chain.bitfields import decode_bitvector

BUILDER_INDEX_FLAG = 2**40
"""Gloas: a withdrawal whose ``validator_index`` has this bit pays a builder's bid to a proposer's
fee recipient. It is never a validator's balance leaving (accounting.md §2.10)."""


@dataclass(frozen=True, slots=True)
class WindowBlock:
    slot: int
    root: str
    proposer: int
    sync_bits: tuple[bool, ...] | None
    """``None`` before Altair (no sync aggregate)."""
    slashed: frozenset[int]
    """Validators slashed by this block's proposer and attester slashings."""
    block_hash: str | None
    fee_recipient: str | None
    block_number: int | None


@dataclass(frozen=True, slots=True)
class WindowFacts:
    blocks: tuple[WindowBlock, ...]
    withdrawals: Mapping[int, int]
    """Validator index → Σ Gwei withdrawn in the window (builder payments excluded)."""
    deposit_requests: Mapping[str, int]
    """Lower-case pubkey → Σ Gwei of deposits included in the window (requests and legacy)."""


def window_facts(
    blocks: Iterable[tuple[str, SignedBeaconBlock]], sync_committee_size: int
) -> WindowFacts:
    """``blocks``: (root, block) pairs of the canonical blocks of the window."""
    withdrawals: dict[int, int] = defaultdict(int)
    deposits: dict[str, int] = defaultdict(int)
    out: list[WindowBlock] = []
    for root, signed in blocks:
        msg = signed.message
        body = msg.body
        payload = body.payload
        for w in (payload.withdrawals or ()) if payload is not None else ():
            if w.validator_index & BUILDER_INDEX_FLAG:
                continue
            withdrawals[w.validator_index] += w.amount
        for d in body.deposits:
            deposits[d.data.pubkey.lower()] += d.data.amount
        if body.execution_requests is not None:
            for r in body.execution_requests.deposits:
                deposits[r.pubkey.lower()] += r.amount
        slashed: set[int] = set()
        for ps in body.proposer_slashings:
            slashed.add(ps.signed_header_1.message.proposer_index)
        for att in body.attester_slashings:
            slashed |= att.slashed_indices
        bits = (
            tuple(decode_bitvector(body.sync_aggregate.sync_committee_bits, sync_committee_size))
            if body.sync_aggregate is not None
            else None
        )
        out.append(
            WindowBlock(
                slot=msg.slot,
                root=root,
                proposer=msg.proposer_index,
                sync_bits=bits,
                slashed=frozenset(slashed),
                block_hash=None if payload is None else payload.block_hash,
                fee_recipient=None if payload is None else payload.fee_recipient.lower(),
                block_number=None if payload is None else payload.block_number,
            )
        )
    return WindowFacts(
        blocks=tuple(sorted(out, key=lambda b: b.slot)),
        withdrawals=dict(withdrawals),
        deposit_requests=dict(deposits),
    )


def pending_by_pubkey(queue: Iterable[PendingDeposit]) -> dict[str, int]:
    """Σ queued Gwei per lower-case pubkey."""
    out: dict[str, int] = defaultdict(int)
    for d in queue:
        out[d.pubkey.lower()] += d.amount
    return dict(out)


def seat_positions(committee: Sequence[int], ours: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """Validator → its positions in the sync committee (``committee[i]`` sits at ``i``)."""
    wanted = set(ours)
    out: dict[int, list[int]] = defaultdict(list)
    for position, v in enumerate(committee):
        if v in wanted:
            out[v].append(position)
    return {v: tuple(p) for v, p in out.items()}


def single_seat_member(committee: Sequence[int], prefer: Iterable[int] = ()) -> int | None:
    """A committee member holding exactly one seat (its sync reward is ``±participant_reward``),
    preferring one of ``prefer``; ``None`` if every member holds several seats."""
    counts: dict[int, int] = defaultdict(int)
    for v in committee:
        counts[v] += 1
    for v in prefer:
        if counts.get(v) == 1:
            return v
    return next((v for v, c in counts.items() if c == 1), None)


@dataclass(frozen=True, slots=True)
class SourceState:
    """A consolidation source in the state at ``LAST(k − 1)``."""

    balance: int
    effective_balance: int
    slashed: bool


def processed_consolidations(
    start: Sequence[PendingConsolidation], end: Sequence[PendingConsolidation]
) -> tuple[PendingConsolidation, ...]:
    """The entries the transition into ``k`` took off the front of the queue.

    ``process_pending_consolidations`` consumes a prefix of the queue (processed, or dropped for a
    slashed source); requests in the blocks of ``k`` append at the back. So the queue at
    ``LAST(k)`` starts with what is left of the one at ``LAST(k − 1)``."""
    s = [(c.source_index, c.target_index) for c in start]
    e = [(c.source_index, c.target_index) for c in end]
    for n in range(len(s) + 1):
        rest = s[n:]
        if e[: len(rest)] == rest:
            return tuple(start[:n])
    return tuple(start)  # unreachable: n == len(s) always matches


def consolidation_moves(
    processed: Iterable[PendingConsolidation], sources: Mapping[int, SourceState]
) -> tuple[dict[int, int], dict[int, int]]:
    """(moved in per target, moved out per source) by the transition into ``k``.

    The spec moves ``min(balance, effective_balance)`` of an unslashed source (a slashed one is
    dropped). The source is long exited by then (withdrawable), so the transition changed neither
    figure before the move: the state at ``LAST(k − 1)`` gives both."""
    moved_in: dict[int, int] = defaultdict(int)
    moved_out: dict[int, int] = defaultdict(int)
    for c in processed:
        src = sources.get(c.source_index)
        if src is None or src.slashed:
            continue
        amount = min(src.balance, src.effective_balance)
        moved_out[c.source_index] += amount
        moved_in[c.target_index] += amount
    return dict(moved_in), dict(moved_out)


def chain_gap(blocks: Sequence[tuple[str, SignedBeaconBlock]]) -> int | None:
    """The slot of the first block (in slot order) whose parent is not the block before it, or
    ``None`` if they form one chain. Empty slots in between are fine; two forks are not."""
    for (prev_root, _), (_, block) in itertools.pairwise(blocks):
        if block.parent_root != prev_root:
            return int(block.slot)
    return None
