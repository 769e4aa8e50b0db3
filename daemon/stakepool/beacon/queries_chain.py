"""Block, duty, reward and pool queries behind ``BeaconClient``.

Fallbacks, each taken when the preferred route is ``Unsupported`` on every usable node: POST
liveness → legacy GET ``?indices=&epoch=``; v2 pool attester slashings → v1; v2 block attestations
→ v1 → the block body; blinded block → full block.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stakepool.beacon import routes
from stakepool.beacon.batching import chunks, merge_envelopes
from stakepool.beacon.errors import NotFound, Unsupported
from stakepool.beacon.models import (
    Attestation,
    AttestationRewards,
    AttesterDuty,
    AttesterSlashing,
    BlockRewards,
    Envelope,
    HeaderInfo,
    LegacyLiveness,
    Liveness,
    ProposerDuty,
    ProposerSlashing,
    SignedBeaconBlock,
    SignedVoluntaryExit,
    SyncCommitteeReward,
    SyncDuty,
)
from stakepool.beacon.requester import Chunked, Requester, none_if_not_found
from stakepool.chain.types import Gwei, ValidatorIndex


class ChainQueries(Requester):
    # --- blocks --------------------------------------------------------------------------------

    async def header(
        self, block_id: str, request_timeout: float | None
    ) -> Envelope[HeaderInfo] | None:
        return await none_if_not_found(
            self._get(
                routes.HEADER,
                Envelope[HeaderInfo],
                params={"block_id": block_id},
                request_timeout=request_timeout,
            )
        )

    async def headers_at_slot(
        self, slot: int, request_timeout: float | None
    ) -> Chunked[HeaderInfo]:
        model = Envelope[tuple[HeaderInfo, ...]]
        found = await none_if_not_found(
            self._get(
                routes.HEADERS, model, query=[("slot", str(slot))], request_timeout=request_timeout
            )
        )
        return found if found is not None else self.empty()

    async def block(
        self, block_id: str, request_timeout: float | None
    ) -> Envelope[SignedBeaconBlock] | None:
        return await none_if_not_found(
            self._get(
                routes.BLOCK,
                Envelope[SignedBeaconBlock],
                params={"block_id": block_id},
                request_timeout=request_timeout,
            )
        )

    async def blinded_block(
        self, block_id: str, request_timeout: float | None
    ) -> Envelope[SignedBeaconBlock] | None:
        try:
            return await none_if_not_found(
                self._get(
                    routes.BLINDED_BLOCK,
                    Envelope[SignedBeaconBlock],
                    params={"block_id": block_id},
                    request_timeout=request_timeout,
                )
            )
        except Unsupported:
            return await self.block(block_id, request_timeout)

    async def block_attestations(
        self, block_id: str, request_timeout: float | None
    ) -> Chunked[Attestation] | None:
        model = Envelope[tuple[Attestation, ...]]
        for route in (routes.BLOCK_ATTESTATIONS, routes.BLOCK_ATTESTATIONS_V1):
            try:
                return await none_if_not_found(
                    self._get(
                        route, model, params={"block_id": block_id}, request_timeout=request_timeout
                    )
                )
            except Unsupported:
                continue
        block = await self.block(block_id, request_timeout)
        if block is None:
            return None
        return Envelope[tuple[Attestation, ...]].model_construct(
            data=block.data.message.body.attestations,
            execution_optimistic=block.execution_optimistic,
            finalized=block.finalized,
            version=block.version,
            dependent_root=None,
        )

    # --- duties --------------------------------------------------------------------------------

    async def proposer_duties(
        self, epoch: int, request_timeout: float | None
    ) -> Chunked[ProposerDuty]:
        return await self._get(
            routes.PROPOSER_DUTIES,
            Envelope[tuple[ProposerDuty, ...]],
            params={"epoch": epoch},
            request_timeout=request_timeout,
        )

    async def attester_duties(
        self, epoch: int, indices: list[str], request_timeout: float
    ) -> Chunked[AttesterDuty]:
        model = Envelope[tuple[AttesterDuty, ...]]

        async def post(chunk: list[str]) -> Chunked[AttesterDuty]:
            return await self._post(
                routes.ATTESTER_DUTIES,
                model,
                chunk,
                params={"epoch": epoch},
                request_timeout=request_timeout,
            )

        return await self._batched(indices, self.batch_size, post)

    async def sync_duties(
        self, epoch: int, indices: list[str], request_timeout: float | None
    ) -> Chunked[SyncDuty]:
        model = Envelope[tuple[SyncDuty, ...]]

        async def post(chunk: list[str]) -> Chunked[SyncDuty]:
            return await self._post(
                routes.SYNC_DUTIES,
                model,
                chunk,
                params={"epoch": epoch},
                request_timeout=request_timeout,
            )

        return await self._batched(indices, self.batch_size, post)

    async def liveness(
        self, epoch: int, indices: list[str], request_timeout: float | None
    ) -> Chunked[Liveness]:
        async def post(chunk: list[str]) -> Chunked[Liveness]:
            return await self._post(
                routes.LIVENESS,
                Envelope[tuple[Liveness, ...]],
                chunk,
                params={"epoch": epoch},
                request_timeout=request_timeout,
            )

        async def legacy(chunk: list[str]) -> Chunked[Liveness]:
            query = [("indices", i) for i in chunk] + [("epoch", str(epoch))]
            env: Envelope[tuple[LegacyLiveness, ...]] = await self._get(
                routes.LIVENESS_LEGACY,
                Envelope[tuple[LegacyLiveness, ...]],
                query=query,
                request_timeout=request_timeout,
            )
            return Envelope[tuple[Liveness, ...]].model_construct(
                data=tuple(e.typed() for e in env.data),
                execution_optimistic=env.execution_optimistic,
                finalized=env.finalized,
                version=env.version,
                dependent_root=env.dependent_root,
            )

        if not indices:
            return self.empty()
        try:
            return await self._batched(indices, self.batch_size, post)
        except Unsupported:
            return await self._batched(indices, self.get_batch_size, legacy)

    # --- rewards -------------------------------------------------------------------------------

    async def attestation_rewards(
        self, epoch: int, ids: list[str], request_timeout: float
    ) -> Envelope[AttestationRewards] | None:
        if not ids:
            return Envelope[AttestationRewards].model_construct(
                data=AttestationRewards.model_construct(ideal_rewards=(), total_rewards=()),
                execution_optimistic=False,
                finalized=None,
                version=None,
                dependent_root=None,
            )
        model = Envelope[AttestationRewards]
        parts: list[Envelope[AttestationRewards]] = []
        for chunk in chunks(ids, self.batch_size):
            try:
                parts.append(
                    await self._post(
                        routes.ATTESTATION_REWARDS,
                        model,
                        list(chunk),
                        params={"epoch": epoch},
                        request_timeout=request_timeout,
                    )
                )
            except NotFound:
                return None
        ideal = {r.effective_balance: r for p in parts for r in p.data.ideal_rewards}
        merged = merge_envelopes(
            [
                Envelope[tuple[Any, ...]].model_construct(
                    data=p.data.total_rewards,
                    execution_optimistic=p.execution_optimistic,
                    finalized=p.finalized,
                    version=p.version,
                    dependent_root=None,
                )
                for p in parts
            ]
        )
        return Envelope[AttestationRewards].model_construct(
            data=AttestationRewards.model_construct(
                ideal_rewards=tuple(ideal[k] for k in sorted(ideal)),
                total_rewards=merged.data,
            ),
            execution_optimistic=merged.execution_optimistic,
            finalized=merged.finalized,
            version=merged.version,
            dependent_root=None,
        )

    async def block_rewards(
        self, block_id: str, request_timeout: float | None
    ) -> Envelope[BlockRewards] | None:
        return await none_if_not_found(
            self._get(
                routes.BLOCK_REWARDS,
                Envelope[BlockRewards],
                params={"block_id": block_id},
                request_timeout=request_timeout,
            )
        )

    async def sync_rewards(
        self, block_id: str, ids: list[str], request_timeout: float | None
    ) -> Chunked[SyncCommitteeReward] | None:
        if not ids:
            return self.empty()
        model = Envelope[tuple[SyncCommitteeReward, ...]]

        async def post(chunk: list[str]) -> Chunked[SyncCommitteeReward]:
            return await self._post(
                routes.SYNC_REWARDS,
                model,
                chunk,
                params={"block_id": block_id},
                request_timeout=request_timeout,
            )

        try:
            env = await self._batched(ids, self.batch_size, post)
        except NotFound:
            return None
        return env.model_copy(update={"data": sum_sync_rewards(env.data)})

    # --- pools ---------------------------------------------------------------------------------

    async def pool_attester_slashings(
        self, request_timeout: float | None
    ) -> Chunked[AttesterSlashing]:
        model = Envelope[tuple[AttesterSlashing, ...]]
        try:
            return await self._get(
                routes.POOL_ATTESTER_SLASHINGS, model, request_timeout=request_timeout
            )
        except Unsupported:
            return await self._get(
                routes.POOL_ATTESTER_SLASHINGS_V1, model, request_timeout=request_timeout
            )

    async def pool_proposer_slashings(
        self, request_timeout: float | None
    ) -> Chunked[ProposerSlashing]:
        model = Envelope[tuple[ProposerSlashing, ...]]
        return await self._get(
            routes.POOL_PROPOSER_SLASHINGS, model, request_timeout=request_timeout
        )

    async def pool_voluntary_exits(
        self, request_timeout: float | None
    ) -> Chunked[SignedVoluntaryExit]:
        model = Envelope[tuple[SignedVoluntaryExit, ...]]
        return await self._get(routes.POOL_VOLUNTARY_EXITS, model, request_timeout=request_timeout)


def sum_sync_rewards(entries: Iterable[SyncCommitteeReward]) -> tuple[SyncCommitteeReward, ...]:
    """One entry per validator, rewards summed over its seats, first-seen order kept."""
    totals: dict[ValidatorIndex, int] = {}
    for entry in entries:
        totals[entry.validator_index] = totals.get(entry.validator_index, 0) + entry.reward
    return tuple(
        SyncCommitteeReward.model_construct(validator_index=i, reward=Gwei(r))
        for i, r in totals.items()
    )
