"""``SettlementReader``: everything settling window ``k`` needs, read from the beacon node.

Settlement needs only what exists once ``LAST(k)`` is past: the pool's validator records at
``LAST(k − 1)`` and balances at ``LAST(k)``, the pending-deposit and pending-consolidation queues at
both, and the canonical blocks of ``k`` (withdrawals, deposit requests, proposers, slashings). The
blocks are read first and pin the states (``BlockReader.anchors``); a node that no longer serves
those states by root is asked by slot. The result is a ``WindowInputs`` the pure
``settling.settled_rows`` turns into money.

It composes a ``BlockReader`` and a ``StateReader`` (which it shares with the explanation reader)
and keeps no state of its own: it is the order of the reads, not the reads themselves. It also
reads a window again for an explanation the cache forgot (``again``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from stakepool.beacon.errors import NotFound
from stakepool.beacon.models import PendingConsolidation
from stakepool.chain.spec import ChainSpec
from stakepool.rewards.block_reader import BlockReader
from stakepool.rewards.explaining import Record
from stakepool.rewards.settling import WindowInputs, last_slot
from stakepool.rewards.state_reader import StateReader
from stakepool.rewards.types import EpochRewards
from stakepool.rewards.window import (
    SourceState,
    consolidation_moves,
    processed_consolidations,
    window_facts,
)
from stakepool.rewards.window_cache import KeptWindow


def pool_consolidations(
    queue: Sequence[PendingConsolidation], pool: set[int]
) -> tuple[tuple[int, int], ...]:
    """The queue's entries with a pool validator on either side, as ``(source, target)``."""
    return tuple(
        (int(c.source_index), int(c.target_index))
        for c in queue
        if c.source_index in pool or c.target_index in pool
    )


class SettlementReader:
    def __init__(self, blocks: BlockReader, states: StateReader, spec: ChainSpec) -> None:
        self.blocks = blocks
        self.states = states
        self.spec = spec

    async def read(self, epoch: int, indices: Sequence[int]) -> WindowInputs:
        """Window ``epoch`` (``≥ 1``) for ``indices`` (sorted, distinct).

        Raises ``BeaconError`` when the node cannot serve the window's states or blocks
        (``NotFound``: a state it no longer has)."""
        spe = self.spec.slots_per_epoch
        start_slot, end_slot = last_slot(epoch - 1, spe), last_slot(epoch, spe)
        blocks = await self.blocks.window(epoch)
        start_id, end_id = await self.blocks.anchors(epoch, blocks)
        try:
            ends = await self.states.ends(start_id, end_id, indices)
        except NotFound:
            # Some nodes serve only epoch-boundary states by root once they are older: by slot.
            if (start_id, end_id) == (str(start_slot), str(end_slot)):
                raise
            start_id, end_id = str(start_slot), str(end_slot)
            ends = await self.states.ends(start_id, end_id, indices)
        start, end = ends.start, ends.end
        facts = window_facts(blocks, self.spec.sync_committee_size)
        # A validator created inside the window has no start record: its pubkey (for deposits)
        # comes from the end state.
        born = [v for v in end if v not in start]
        newcomers = (await self.states.records(end_id, born))[0] if born else {}
        cons_in, cons_out = await self._consolidation_moves(
            processed_consolidations(ends.consolidations_start, ends.consolidations_end),
            start,
            start_id,
            set(indices),
        )
        meta = ends.start_meta.add(ends.end_meta.finalized, ends.end_meta.optimistic)
        return WindowInputs(
            facts=facts,
            start_id=start_id,
            end_id=end_id,
            start=start,
            end=end,
            newcomers=newcomers,
            pending_start=ends.pending_start,
            pending_end=ends.pending_end,
            consolidation_in=cons_in,
            consolidation_out=cons_out,
            finalized=meta.finalized,
            optimistic=meta.optimistic,
            consolidations_end=pool_consolidations(ends.consolidations_end, set(indices)),
        )

    async def again(self, settled: EpochRewards, indices: Sequence[int]) -> KeptWindow | None:
        """What ``explain`` needs of ``settled``, read again; ``None`` if its blocks changed."""
        start, blocks = await asyncio.gather(
            self.states.records(settled.start_state_id, indices), self.blocks.window(settled.epoch)
        )
        facts = window_facts(blocks, self.spec.sync_committee_size)
        if tuple(b.root for b in facts.blocks) != settled.block_roots:
            return None
        return KeptWindow(facts, start[0], settled.end_state_id)

    async def _consolidation_moves(
        self,
        processed: Sequence[PendingConsolidation],
        start: Mapping[int, Record],
        start_id: str,
        pool: set[int],
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Moves touching the pool; sources outside the pool are read too (a principal inflow)."""
        relevant = [c for c in processed if c.source_index in pool or c.target_index in pool]
        if not relevant:
            return {}, {}
        missing = sorted({int(c.source_index) for c in relevant} - set(start))
        extra = (await self.states.records(start_id, missing))[0] if missing else {}
        records = {**extra, **start}
        sources: dict[int, SourceState] = {}
        for c in relevant:
            r = records.get(c.source_index)
            if r is not None:
                sources[c.source_index] = SourceState(r.balance, r.effective_balance, r.slashed)
        return consolidation_moves(relevant, sources)
