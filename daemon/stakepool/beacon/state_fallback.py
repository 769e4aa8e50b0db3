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

``block_slot_for_state`` is the rule (pure, given a "block at slot?" lookup); ``StandIn`` applies
it to a state query of ``client.state``, asking ``client.blocks`` for the headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from stakepool.beacon.errors import NotFound
from stakepool.beacon.models import Envelope, HeaderInfo

log = structlog.get_logger(__name__)

R = TypeVar("R")


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


class StandIn:
    """Runs a state query at a state id, or at a stand-in block's slot where the node has no state
    at that slot. ``header(block_id)``: the canonical header there, or None; ``slots_per_epoch()``:
    the spec's value."""

    def __init__(
        self,
        header: Callable[[str | int], Awaitable[Envelope[HeaderInfo] | None]],
        slots_per_epoch: Callable[[], Awaitable[int]],
    ) -> None:
        self._header = header
        self._slots_per_epoch = slots_per_epoch

    async def at_state(
        self, state_id: str | int, call: Callable[[str], Awaitable[R]], *, checkpoints: bool = False
    ) -> R:
        """``call`` at ``state_id``; a slot's state the node cannot serve → a block's state that
        holds the same facts, or the original ``NotFound``. ``checkpoints``: the query reads only
        the checkpoints, so a later block of the same epoch may stand in too."""
        sid = str(state_id)
        try:
            return await call(sid)
        except NotFound as exc:
            slot = slot_of(sid)
            if slot is None:
                raise
            original = exc
        stand_in = await self._stand_in_slot(slot, checkpoints=checkpoints)
        if stand_in is None:
            raise original
        log.debug("empty_slot_state_read_from_block", slot=slot, block=stand_in)
        return await call(str(stand_in))

    async def _stand_in_slot(self, slot: int, *, checkpoints: bool) -> int | None:
        async def block_at(s: int) -> bool:
            header = await self._header(s)
            return header is not None and header.data.canonical and header.data.slot == s

        head_slot = None
        if checkpoints:
            head = await self._header("head")
            head_slot = head.data.slot if head is not None else slot
        return await block_slot_for_state(
            slot,
            await self._slots_per_epoch(),
            block_at,
            head_slot=head_slot,
            forward=checkpoints,
        )
