"""``client.blocks``: block headers, blocks and a block's attestations, by block id or slot.

A 404 here is a data answer: no block at that slot (or no such block), returned as ``None``.
Fallbacks, each taken when the preferred route is ``Unsupported`` on every usable node: blinded
block → full block (the same model either way); v2 block attestations → v1 → the block's body.
"""

from __future__ import annotations

from stakepool.beacon import routes
from stakepool.beacon.errors import Unsupported
from stakepool.beacon.models import Attestation, Envelope, HeaderInfo, SignedBeaconBlock
from stakepool.beacon.requester import BlockId, Chunked, Requester, none_if_not_found


class BlockQueries:
    def __init__(self, requester: Requester) -> None:
        self._req = requester

    async def header(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[HeaderInfo] | None:
        """None: no canonical block at that slot (or no such block)."""
        return await none_if_not_found(
            self._req.get(
                routes.HEADER,
                Envelope[HeaderInfo],
                params={"block_id": str(block_id)},
                request_timeout=request_timeout,
            )
        )

    async def headers_at_slot(
        self, slot: int, *, request_timeout: float | None = None
    ) -> Chunked[HeaderInfo]:
        """Every block the node knows at ``slot``, canonical or not (orphaned vs never seen)."""
        model = Envelope[tuple[HeaderInfo, ...]]
        found = await none_if_not_found(
            self._req.get(
                routes.HEADERS, model, query=[("slot", str(slot))], request_timeout=request_timeout
            )
        )
        return found if found is not None else self._req.empty()

    async def block(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[SignedBeaconBlock] | None:
        return await none_if_not_found(
            self._req.get(
                routes.BLOCK,
                Envelope[SignedBeaconBlock],
                params={"block_id": str(block_id)},
                request_timeout=request_timeout,
            )
        )

    async def blinded_block(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[SignedBeaconBlock] | None:
        """The blinded block; the full block where the route is missing (same model either way)."""
        try:
            return await none_if_not_found(
                self._req.get(
                    routes.BLINDED_BLOCK,
                    Envelope[SignedBeaconBlock],
                    params={"block_id": str(block_id)},
                    request_timeout=request_timeout,
                )
            )
        except Unsupported:
            return await self.block(block_id, request_timeout=request_timeout)

    async def attestations(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Chunked[Attestation] | None:
        """v2 attestations; falls back to v1, then to the block body."""
        model = Envelope[tuple[Attestation, ...]]
        params: dict[str, object] = {"block_id": str(block_id)}
        for route in (routes.BLOCK_ATTESTATIONS, routes.BLOCK_ATTESTATIONS_V1):
            try:
                return await none_if_not_found(
                    self._req.get(route, model, params=params, request_timeout=request_timeout)
                )
            except Unsupported:
                continue
        block = await self.block(block_id, request_timeout=request_timeout)
        if block is None:
            return None
        return Envelope[tuple[Attestation, ...]].model_construct(
            data=block.data.message.body.attestations,
            execution_optimistic=block.execution_optimistic,
            finalized=block.finalized,
            version=block.version,
            dependent_root=None,
        )
