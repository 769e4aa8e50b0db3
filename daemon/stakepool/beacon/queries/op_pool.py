"""``client.op_pool``: the node's operation pools: attester and proposer slashings and voluntary
exits waiting for inclusion (how the monitor sees a slashing of ours before it lands in a block).

Named ``op_pool``, not ``pool``: ``client.pool`` is the pool of beacon nodes. Fallback: v2 pool
attester slashings → v1, when v2 is ``Unsupported`` on every usable node.
"""

from __future__ import annotations

from stakepool.beacon import routes
from stakepool.beacon.errors import Unsupported
from stakepool.beacon.models import (
    AttesterSlashing,
    Envelope,
    ProposerSlashing,
    SignedVoluntaryExit,
)
from stakepool.beacon.requester import Requester


class OpPoolQueries:
    def __init__(self, requester: Requester) -> None:
        self._req = requester

    async def attester_slashings(
        self, *, request_timeout: float | None = None
    ) -> Envelope[tuple[AttesterSlashing, ...]]:
        """v2; v1 where v2 is missing."""
        model = Envelope[tuple[AttesterSlashing, ...]]
        try:
            return await self._req.get(
                routes.POOL_ATTESTER_SLASHINGS, model, request_timeout=request_timeout
            )
        except Unsupported:
            return await self._req.get(
                routes.POOL_ATTESTER_SLASHINGS_V1, model, request_timeout=request_timeout
            )

    async def proposer_slashings(
        self, *, request_timeout: float | None = None
    ) -> Envelope[tuple[ProposerSlashing, ...]]:
        model = Envelope[tuple[ProposerSlashing, ...]]
        return await self._req.get(
            routes.POOL_PROPOSER_SLASHINGS, model, request_timeout=request_timeout
        )

    async def voluntary_exits(
        self, *, request_timeout: float | None = None
    ) -> Envelope[tuple[SignedVoluntaryExit, ...]]:
        model = Envelope[tuple[SignedVoluntaryExit, ...]]
        return await self._req.get(
            routes.POOL_VOLUNTARY_EXITS, model, request_timeout=request_timeout
        )
