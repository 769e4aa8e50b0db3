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

from stakepool.beacon import routes
from stakepool.beacon.batching import chunks, merge_envelopes_with, normalize_ids
from stakepool.beacon.errors import NotFound
from stakepool.beacon.models import (
    AttestationRewards,
    BlockRewards,
    Envelope,
    SyncCommitteeReward,
)
from stakepool.beacon.models.columns import replace_data
from stakepool.beacon.models.reward_columns import (
    AttestationRewardColumns,
    decode_attestation_rewards,
)
from stakepool.beacon.parsing import raw_parser
from stakepool.beacon.requester import BlockId, Chunked, Requester, none_if_not_found
from stakepool.chain.types import Gwei, ValidatorIndex


class RewardQueries:
    def __init__(self, requester: Requester) -> None:
        self._req = requester

    async def attestations(
        self, epoch: int, indices: Iterable[int | str], *, request_timeout: float | None = None
    ) -> Envelope[AttestationRewards] | None:
        """None: not available (yet or any more) on the node. One model per validator: the
        epoch's big read takes ``attestation_columns``."""
        answer = await self.attestation_columns(epoch, indices, request_timeout=request_timeout)
        return None if answer is None else replace_data(answer, answer.data.model())

    async def attestation_columns(
        self, epoch: int, indices: Iterable[int | str], *, request_timeout: float | None = None
    ) -> Envelope[AttestationRewardColumns] | None:
        """``attestations`` as columns; ideal rows merged by effective balance."""
        ids = normalize_ids(indices)
        timeout = self._req.bulk(request_timeout)
        parse = raw_parser(routes.ATTESTATION_REWARDS, decode_attestation_rewards)
        parts: list[Envelope[AttestationRewardColumns]] = []
        for chunk in chunks(ids, self._req.batch_size):
            try:
                parts.append(
                    await self._req.parsed(
                        routes.ATTESTATION_REWARDS,
                        parse,
                        body=list(chunk),
                        params={"epoch": epoch},
                        request_timeout=timeout,
                    )
                )
            except NotFound:
                return None
        # The chunks of one epoch's rewards carry no dependent root: merging cannot disagree.
        return merge_envelopes_with(
            parts, AttestationRewardColumns.concat, AttestationRewardColumns.concat([])
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
