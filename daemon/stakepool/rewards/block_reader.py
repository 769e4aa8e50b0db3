"""``BlockReader``: the canonical blocks of a window, and the state ids they pin.

A part of its own because the blocks are read first and decide how the states are read: the
post-state of the window's last block has the balances of ``LAST(k)`` (no epoch boundary in
between, even when ``LAST(k)`` is empty), so both ends are read by state root where a block pins
them and by slot otherwise (``anchors``). The settlement and the re-read of a forgotten window
both read blocks here. Its only state is the client and the spec.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError, InconsistentAnswer
from stakepool.beacon.models import SignedBeaconBlock
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.settling import last_slot
from stakepool.rewards.window import chain_gap


class BlockReader:
    def __init__(self, client: BeaconClient, spec: ChainSpec) -> None:
        self.client = client
        self.spec = spec

    async def window(self, epoch: int) -> list[tuple[str, SignedBeaconBlock]]:
        """(root, block) of each canonical block of ``epoch``, in slot order."""
        spe = self.spec.slots_per_epoch
        slots = range(epoch * spe, (epoch + 1) * spe)
        found = await asyncio.gather(*(self._block_at(s) for s in slots))
        return [b for b in found if b is not None]

    async def anchors(
        self, epoch: int, blocks: Sequence[tuple[str, SignedBeaconBlock]]
    ) -> tuple[str, str]:
        """State ids for both ends of the window, pinned to the fork its blocks are on.

        The post-state of the last block of ``k`` has the balances of ``LAST(k)`` (no epoch
        boundary in between), and so has the post-state of the first block's parent for
        ``LAST(k − 1)`` if that parent is in ``k − 1``. Reading states by those roots, a reorg
        between our requests cannot pair another fork's balances with these blocks. Otherwise
        (an empty window, a parent further back) the states are read by slot."""
        spe = self.spec.slots_per_epoch
        start_id, end_id = str(last_slot(epoch - 1, spe)), str(last_slot(epoch, spe))
        if not blocks:
            return start_id, end_id
        gap = chain_gap(blocks)
        if gap is not None:
            raise InconsistentAnswer(
                "blocks",
                f"window {epoch}: the block at slot {gap} does not build on the one before it "
                "(a reorg while reading); settle the window again",
            )
        end_id = blocks[-1][1].message.state_root
        parent = await self.client.blocks.header(blocks[0][1].parent_root)
        if parent is not None and parent.data.slot // self.spec.slots_per_epoch == epoch - 1:
            start_id = parent.data.header.message.state_root
        return start_id, end_id

    async def _block_at(self, slot: int) -> tuple[str, SignedBeaconBlock] | None:
        header = await self.client.blocks.header(slot)
        if header is None or not header.data.canonical:
            return None
        root = header.data.root
        block = await self.client.blocks.block(root)
        if block is None:
            raise BeaconError("block", f"block {root} at slot {slot} vanished (reorg?)")
        return root, block.data
