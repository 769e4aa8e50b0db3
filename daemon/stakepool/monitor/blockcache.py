"""Canonical blocks by slot, fetched once each, and the canonical roots they imply (I/O edge).

The monitor reads every canonical block of an attestation's inclusion window (two epochs) and the
sync aggregates of one epoch; consecutive windows overlap by an epoch, so blocks are cached by slot
and each slot is fetched once (``None`` remembers an empty slot). Slots are only fetched once
their epoch has closed, when a depth-1 reorg can no longer change them.

Roots come from the blocks themselves: a canonical block's ``parent_root`` is the root of the
canonical block before it, so one window of blocks yields every root but the newest one's, which
costs one header request only when a vote could name it.

A block that looks damaged (no attestation, no sync aggregate, an attestation no chain could
include) is read a second time and kept only if both reads agree; otherwise the load fails and the
epoch's part is retried. An answer naming a later slot than asked is refused outright.

A ``chain_reorg`` evicts the slots it replaced (``evict_from``); a reorg the node never announces
(polling mode) is not noticed once a slot is cached.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.chain.types import Root, Slot
from stakepool.monitor.attestations import CanonicalChain


class BlockCache:
    def __init__(self, client: BeaconClient, slots_per_epoch: int) -> None:
        self._client = client
        self._spe = slots_per_epoch
        self._by_slot: dict[Slot, SignedBeaconBlock | None] = {}

    async def load(
        self, first: int, last: int, on_new: Callable[[SignedBeaconBlock], None]
    ) -> None:
        """Fetch the uncached slots of ``[first, last]``; ``on_new`` sees each new block at once,
        so a request failing halfway loses no block already cached (none is seen twice either)."""
        for slot in range(max(first, 0), last + 1):
            if Slot(slot) in self._by_slot:
                continue
            block, version = await self._read(slot)
            if block is not None and _odd(block, version, self._spe):
                # Read once more: a damaged answer that still parses (a list emptied, a field
                # dropped to its default, a slot no chain could include) would cost members
                # their verdicts; an honest node says the same twice.
                again, _ = await self._read(slot)
                if again != block:
                    raise InconsistentAnswer(
                        "block", f"slot {slot}: two reads of an unusual block disagree"
                    )
            self._by_slot[Slot(slot)] = block
            if block is not None:
                on_new(block)

    async def _read(self, slot: int) -> tuple[SignedBeaconBlock | None, str | None]:
        """The block at ``slot`` (None: empty) and the fork the node named for it."""
        answer = await self._client.blocks.block(slot)
        if answer is not None and answer.data.slot > slot:
            # No node has a block of a later slot at this one: a damaged number (2⁶⁴−1 parses),
            # which taken as "empty" would drop the block's attestations from the window.
            raise InconsistentAnswer(
                "block", f"slot {slot}: the answer names slot {answer.data.slot}, a later one"
            )
        if answer is None or answer.data.slot != slot:
            return None, None  # a node that answers an empty slot with an earlier block
        return answer.data, answer.version

    def has(self, first: int, last: int) -> bool:
        return all(Slot(s) in self._by_slot for s in range(max(first, 0), last + 1))

    def blocks(self, first: int, last: int) -> Iterator[SignedBeaconBlock]:
        """Cached canonical blocks in ``[first, last]``, ascending."""
        for slot in range(max(first, 0), last + 1):
            block = self._by_slot.get(Slot(slot))
            if block is not None:
                yield block

    def evict_from(self, slot: int) -> None:
        """A reorg replaced the chain from ``slot`` on: those slots are fetched again."""
        for cached in [s for s in self._by_slot if s >= slot]:
            del self._by_slot[cached]

    def prune(self, before: int) -> None:
        for slot in [s for s in self._by_slot if s < before]:
            del self._by_slot[slot]

    async def chain(self, first: int, last_needed: int, last: int) -> CanonicalChain:
        """Canonical roots covering ``[first, last_needed]`` from the cached blocks up to ``last``.

        Slots before ``first`` map to the parent of the first block (placed at ``first − 1``: any
        earlier slot resolves the same). The newest block's root is fetched only when it sits at
        or before ``last_needed``.
        """
        blocks = list(self.blocks(first, last))
        roots: dict[int, Root] = {}
        if blocks:
            roots[first - 1] = blocks[0].parent_root
            for before, after in itertools.pairwise(blocks):
                roots[before.slot] = after.parent_root
            newest = blocks[-1]
            if newest.slot <= last_needed:
                header = await self._client.blocks.header(newest.slot)
                if header is not None:
                    roots[newest.slot] = header.data.root
        return CanonicalChain(roots, Slot(first))


MAX_COMMITTEES_PER_SLOT = 64


BEFORE_ELECTRA = frozenset({"phase0", "altair", "bellatrix", "capella", "deneb"})


def _odd(block: SignedBeaconBlock, version: str | None, spe: int) -> bool:
    """A block a live chain rarely or never holds: no attestation (after the first slots), no
    sync aggregate (Altair on), or an attestation for its own slot or later, for a committee past
    the protocol's 64, (Electra on) without its committee bits — read without them, its
    attesters would be looked for in the wrong committee — or whose target is not its slot's
    epoch, or whose source comes after its target (the protocol includes neither: taken as they
    are, the vote would count for no one)."""
    body = block.message.body
    if block.slot > 1 and (not body.attestations or body.sync_aggregate is None):
        return True
    electra = version is not None and version.lower() not in BEFORE_ELECTRA
    return any(
        a.data.slot >= block.slot
        or a.data.index >= MAX_COMMITTEES_PER_SLOT
        or (electra and a.committee_bits is None)
        or a.data.target.epoch != a.data.slot // spe
        or a.data.source.epoch > a.data.target.epoch
        for a in body.attestations
    )
