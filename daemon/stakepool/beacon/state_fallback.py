"""A state asked for by slot that the node cannot serve: the same facts from a block's state.

Some nodes (stock Lodestar v1.5.1) answer 404 "No state found" for ``states/{slot}`` when no block
was proposed at that slot, although the spec's state at an empty slot is simply the last block's
state advanced through empty slots. Within one epoch that advance changes no balance, no validator
record and no checkpoint (those move only in block processing and at the epoch boundary), so:

* state queries whose answer is fixed by the *last block* (validators, balances, committees, sync
  committees, pending deposits) are asked of the last block at or before the slot, in the same
  epoch;
* checkpoints move only at the epoch boundary, so any block of the same epoch will do: the last
  one before the slot, else the first one after it (an empty first slot of an epoch).

No block in that epoch (or a block at the slot itself, whose state is really gone): no fallback,
the original ``NotFound`` stands. Decided from the spec's ``SLOTS_PER_EPOCH`` alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable


def slot_of(state_id: str) -> int | None:
    """The slot a state id names, or None (``head``, ``finalized``, a state root …)."""
    return int(state_id) if state_id.isdecimal() else None


async def block_slot_for_state(
    slot: int,
    slots_per_epoch: int,
    block_at: Callable[[int], Awaitable[bool]],
    *,
    head_slot: int | None = None,
    forward: bool = False,
) -> int | None:
    """The slot of a canonical block whose state stands in for the state at ``slot``, or None.

    ``block_at(s)``: whether a canonical block sits at slot ``s``. Looks backwards to the first
    slot of ``slot``'s epoch; with ``forward`` also on to its last slot (not past ``head_slot``).
    """
    if await block_at(slot):
        return None  # a block is there: the node lost (pruned) its state, not a stand-in case
    first = slot - slot % slots_per_epoch
    for s in range(slot - 1, first - 1, -1):
        if await block_at(s):
            return s
    if forward:
        last = first + slots_per_epoch - 1
        if head_slot is not None:
            last = min(last, head_slot)
        for s in range(slot + 1, last + 1):
            if await block_at(s):
                return s
    return None
