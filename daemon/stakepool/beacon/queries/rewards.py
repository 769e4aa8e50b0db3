"""``client.rewards``: the rewards API: attestation rewards per epoch, a block's proposer rewards,
sync committee rewards per block.

A 404 is a data answer here (rewards not available yet, or any more, on the node): ``None``.
Ids go in ``batch_size`` chunks; an empty id list is answered empty without a request (the API
would read it as "every validator"). Attestation rewards merge the chunks' ``ideal_rewards`` by
effective balance. Sync committee rewards come as one entry per validator, summed over its seats
(Nimbus lists each seat).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stakepool.beacon import routes
from stakepool.beacon.batching import chunks, merge_envelopes, normalize_ids
from stakepool.beacon.errors import NotFound
from stakepool.beacon.models import (
    AttestationRewards,
    BlockRewards,
    Envelope,
    SyncCommitteeReward,
)
from stakepool.beacon.requester import BlockId, Chunked, Requester, none_if_not_found
from stakepool.chain.types import Gwei, ValidatorIndex


class RewardQueries:
    def __init__(self, requester: Requester) -> None:
        self._req = requester

    async def attestations(
        self, epoch: int, indices: Iterable[int | str], *, request_timeout: float | None = None
    ) -> Envelope[AttestationRewards] | None:
        """None: not available (yet or any more) on the node."""
        ids = normalize_ids(indices)
        timeout = self._req.bulk(request_timeout)
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
        for chunk in chunks(ids, self._req.batch_size):
            try:
                parts.append(
                    await self._req.post(
                        routes.ATTESTATION_REWARDS,
                        model,
                        list(chunk),
                        params={"epoch": epoch},
                        request_timeout=timeout,
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

    async def block(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[BlockRewards] | None:
        return await none_if_not_found(
            self._req.get(
                routes.BLOCK_REWARDS,
                Envelope[BlockRewards],
                params={"block_id": str(block_id)},
                request_timeout=request_timeout,
            )
        )

    async def sync_committee(
        self,
        block_id: BlockId,
        indices: Iterable[int | str],
        *,
        request_timeout: float | None = None,
    ) -> Envelope[tuple[SyncCommitteeReward, ...]] | None:
        """One entry per validator (summed over its seats: Nimbus lists each seat)."""
        ids = normalize_ids(indices)
        if not ids:
            return self._req.empty()
        model = Envelope[tuple[SyncCommitteeReward, ...]]
        params: dict[str, object] = {"block_id": str(block_id)}

        async def post(chunk: list[str]) -> Chunked[SyncCommitteeReward]:
            return await self._req.post(
                routes.SYNC_REWARDS, model, chunk, params=params, request_timeout=request_timeout
            )

        try:
            env = await self._req.batched(ids, self._req.batch_size, post)
        except NotFound:
            return None
        return env.model_copy(update={"data": sum_sync_rewards(env.data)})


def sum_sync_rewards(entries: Iterable[SyncCommitteeReward]) -> tuple[SyncCommitteeReward, ...]:
    """One entry per validator, rewards summed over its seats, first-seen order kept."""
    totals: dict[ValidatorIndex, int] = {}
    for entry in entries:
        totals[entry.validator_index] = totals.get(entry.validator_index, 0) + entry.reward
    return tuple(
        SyncCommitteeReward.model_construct(validator_index=i, reward=Gwei(r))
        for i, r in totals.items()
    )
