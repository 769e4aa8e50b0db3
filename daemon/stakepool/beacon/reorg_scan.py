"""Reorgs a node held back, found again in the blocks another node knows.

A ``chain_reorg`` exists only on the stream of the node that saw it, and SSE does not replay: when
the stream's node hangs (it accepts the connection and says nothing) the reorgs it would have told
are gone, while the heads go on arriving by polling or from the next node's stream. So each head
that does not come from the stream node that delivered the previous one is checked against it:
the slots from the previous head to the new one are read with ``headers?slot=`` (every block the
node knows there, canonical or not), and each fork found there — a branch of non-canonical blocks
— is told as the ``chain_reorg`` its node would have sent when the next slot replaced it:

* ``old_head_block``: the branch's tip; ``slot``: the slot after it; ``epoch``: that slot's;
* ``new_head_block``: the canonical chain's latest block at or before ``slot``;
* ``depth``: from ``slot`` back to the branch's first block, so ``slot − depth`` is the first
  slot the reorg changed (where the monitor and the ledger look again).

A reorg the stream did deliver is the same event again (same slots and roots) and is dropped by
the stream's de-duplication. A scan that fails (the other node errs too) leaves the previous head
as it was, so the next head scans the whole gap again. Bounded: at most ``max_slots`` slots and
that many parent look-ups per scan.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.beacon.models import ChainReorgEvent, HeaderInfo
from stakepool.chain.types import Epoch, Slot

log = structlog.get_logger(__name__)

MAX_SLOTS = 64
"""Two mainnet epochs: a node silent for longer is far behind; its reorgs are that old."""


class ReorgScan:
    def __init__(
        self, client: BeaconClient, *, slots_per_epoch: int, max_slots: int = MAX_SLOTS
    ) -> None:
        self.client = client
        self.spe = max(1, slots_per_epoch)
        self.max_slots = max(1, max_slots)
        self._last: tuple[int, str | None] | None = None
        """The previous head's slot and the stream node that delivered it (None: polled)."""

    async def before_head(self, slot: int, stream_node: str | None) -> list[ChainReorgEvent]:
        """The reorgs to tell before a head at ``slot`` (``stream_node`` None: polled), which
        becomes the previous head."""
        found = await self.between(slot, stream_node) if self.needs_scan(slot, stream_node) else []
        self.saw(slot, stream_node)
        return found

    def needs_scan(self, slot: int, stream_node: str | None) -> bool:
        """A head from anywhere but the stream node that delivered the previous one."""
        last = self._last
        return (
            last is not None and slot > last[0] and (stream_node is None or last[1] != stream_node)
        )

    def saw(self, slot: int, stream_node: str | None) -> None:
        if self._last is None or slot >= self._last[0]:
            self._last = (slot, stream_node)

    async def between(self, slot: int, stream_node: str | None) -> list[ChainReorgEvent]:
        """The reorgs between the previous head and a new one at ``slot``; the new head is then
        the previous one. Empty, and the previous head kept, when the node cannot tell."""
        assert self._last is not None
        first = max(self._last[0], slot - self.max_slots)
        try:
            found = await self._scan(first, slot)
        except BeaconError as exc:
            log.info("reorg_scan_failed", first_slot=first, last_slot=slot, error=str(exc))
            return []
        self._last = (slot, stream_node)
        for reorg in found:
            log.info(
                "reorg_found_by_scan",
                slot=reorg.slot,
                depth=reorg.depth,
                old_head_block=reorg.old_head_block,
                new_head_block=reorg.new_head_block,
                hint="the node that streamed the heads did not tell it (hung or gone)",
            )
        return found

    async def _scan(self, first: int, last: int) -> list[ChainReorgEvent]:
        canonical: dict[int, HeaderInfo] = {}
        forks: dict[str, HeaderInfo] = {}
        for s in range(first, last + 1):
            for h in (await self.client.blocks.headers_at_slot(s)).data:
                if h.slot != s:
                    continue  # an answer for another slot says nothing about this one
                if h.canonical:
                    canonical[s] = h
                elif s < last:
                    forks[h.root] = h
        parents = {h.header.message.parent_root for h in forks.values()}
        tips = sorted((h for h in forks.values() if h.root not in parents), key=lambda h: h.slot)
        out: list[ChainReorgEvent] = []
        for tip in tips:
            reorg = await self._reorg(tip, forks, canonical, last)
            if reorg is not None:
                out.append(reorg)
        return out

    async def _reorg(
        self,
        tip: HeaderInfo,
        forks: dict[str, HeaderInfo],
        canonical: dict[int, HeaderInfo],
        last: int,
    ) -> ChainReorgEvent | None:
        start = tip
        ancestor: HeaderInfo | None = None
        for _ in range(self.max_slots):  # down the branch to where it left the canonical chain
            parent_root = start.header.message.parent_root
            parent = forks.get(parent_root)
            if parent is None:
                answer = await self.client.blocks.header(parent_root)
                parent = None if answer is None else answer.data
            if parent is None:
                return None  # the branch's base is unknown to this node: nothing to pin
            if parent.canonical:
                ancestor = parent
                break
            start = parent
        if ancestor is None:
            return None
        slot = min(tip.slot + 1, last)
        new_head = _latest(canonical, ancestor, slot)
        return ChainReorgEvent.model_construct(
            slot=Slot(slot),
            depth=slot - start.slot,
            old_head_block=tip.root,
            new_head_block=new_head.root,
            old_head_state=tip.header.message.state_root,
            new_head_state=new_head.header.message.state_root,
            epoch=Epoch(slot // self.spe),
            execution_optimistic=False,
        )


def _latest(canonical: dict[int, HeaderInfo], ancestor: HeaderInfo, slot: int) -> HeaderInfo:
    """The canonical chain's latest block at or before ``slot`` (the branch's base at least)."""
    after: Sequence[int] = sorted(s for s in canonical if ancestor.slot < s <= slot)
    return canonical[after[-1]] if after else ancestor
