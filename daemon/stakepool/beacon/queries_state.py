"""Node and state queries behind ``BeaconClient``: routes, bodies, batching and fallbacks.

Fallbacks: POST validators/validator_balances → GET with repeated ``id=`` (≤ 64 per request), when
POST is ``Unsupported`` on every usable node. A balances answer with fewer entries than the ids
asked (stock Lodestar v1.5.1 answers ``[]`` to ``?id=<index>``) → the balances are read from the
validators endpoint for the same ids, which carries each validator's ``balance`` too; a validator
missing there as well does not exist in that state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stakepool.beacon import routes
from stakepool.beacon.errors import NotFound, NotReady
from stakepool.beacon.models import (
    STATUS_GROUPS,
    Committee,
    Envelope,
    FinalityCheckpoints,
    Genesis,
    PendingConsolidation,
    PendingDeposit,
    SyncCommittee,
    Syncing,
    ValidatorBalance,
    ValidatorInfo,
    ValidatorStatus,
    Version,
)
from stakepool.beacon.requester import Chunked, Requester


def expand_statuses(statuses: Iterable[ValidatorStatus | str] | None) -> list[str]:
    """Sub-statuses only: some nodes answer ``[]`` to the group names (``active`` …)."""
    if statuses is None:
        return []
    out: list[str] = []
    for status in statuses:
        value = str(status.value if isinstance(status, ValidatorStatus) else status).lower()
        if value in STATUS_GROUPS:
            out.extend(s.value for s in STATUS_GROUPS[value])
        elif value in {s.value for s in ValidatorStatus}:
            out.append(value)
        else:
            raise ValueError(f"unknown validator status {status!r}")
    return list(dict.fromkeys(out))


class StateQueries(Requester):
    # --- node ----------------------------------------------------------------------------------

    async def genesis(self) -> Genesis:
        try:
            env: Envelope[Genesis] = await self._get(routes.GENESIS, Envelope[Genesis])
        except NotFound as exc:  # "Chain genesis info is not yet known"
            raise NotReady(routes.GENESIS.name, exc.message, node=exc.node) from exc
        return env.data

    async def spec(self) -> dict[str, Any]:
        env: Envelope[dict[str, Any]] = await self._get(routes.SPEC, Envelope[dict[str, Any]])
        return env.data

    async def syncing(self, node: str | None) -> Syncing:
        env: Envelope[Syncing] = await self._get(routes.SYNCING, Envelope[Syncing], node=node)
        return env.data

    async def version(self, node: str | None) -> Version:
        env: Envelope[Version] = await self._get(routes.VERSION, Envelope[Version], node=node)
        return env.data

    # --- state ---------------------------------------------------------------------------------

    async def validators(
        self,
        state_id: str,
        ids: list[str],
        statuses: Iterable[ValidatorStatus | str] | None,
        request_timeout: float,
    ) -> Chunked[ValidatorInfo]:
        wanted = expand_statuses(statuses)
        model = Envelope[tuple[ValidatorInfo, ...]]
        params: dict[str, object] = {"state_id": state_id}

        async def post(chunk: list[str]) -> Chunked[ValidatorInfo]:
            body: dict[str, list[str]] = {"ids": chunk}
            if wanted:
                body["statuses"] = wanted
            return await self._post(
                routes.VALIDATORS_POST, model, body, params=params, request_timeout=request_timeout
            )

        async def get(chunk: list[str]) -> Chunked[ValidatorInfo]:
            query = [("id", i) for i in chunk] + [("status", s) for s in wanted]
            return await self._get(
                routes.VALIDATORS_GET,
                model,
                params=params,
                query=query,
                request_timeout=request_timeout,
            )

        return await self._post_or_get(ids, post, get)

    async def balances(
        self, state_id: str, ids: list[str], request_timeout: float
    ) -> Chunked[ValidatorBalance]:
        model = Envelope[tuple[ValidatorBalance, ...]]
        params: dict[str, object] = {"state_id": state_id}

        async def post(chunk: list[str]) -> Chunked[ValidatorBalance]:
            return await self._post(
                routes.BALANCES_POST, model, chunk, params=params, request_timeout=request_timeout
            )

        async def get(chunk: list[str]) -> Chunked[ValidatorBalance]:
            query = [("id", i) for i in chunk]
            return await self._get(
                routes.BALANCES_GET,
                model,
                params=params,
                query=query,
                request_timeout=request_timeout,
            )

        answer = await self._post_or_get(ids, post, get)
        if len({b.index for b in answer.data}) >= len(ids):
            return answer
        records = await self.validators(state_id, ids, None, request_timeout)
        if len(records.data) <= len(answer.data):
            return answer  # the ids the balances lack do not exist there either
        return model.model_construct(
            data=tuple(
                ValidatorBalance.model_construct(index=v.index, balance=v.balance)
                for v in records.data
            ),
            execution_optimistic=records.execution_optimistic,
            finalized=records.finalized,
            version=records.version,
            dependent_root=None,
        )

    async def finality(
        self, state_id: str, request_timeout: float | None
    ) -> Envelope[FinalityCheckpoints]:
        return await self._get(
            routes.FINALITY,
            Envelope[FinalityCheckpoints],
            params={"state_id": state_id},
            request_timeout=request_timeout,
        )

    async def committees(
        self,
        state_id: str,
        epoch: int | None,
        slot: int | None,
        index: int | None,
        request_timeout: float,
    ) -> Chunked[Committee]:
        query = [
            (k, str(v))
            for k, v in (("epoch", epoch), ("slot", slot), ("index", index))
            if v is not None
        ]
        return await self._get(
            routes.COMMITTEES,
            Envelope[tuple[Committee, ...]],
            params={"state_id": state_id},
            query=query,
            request_timeout=request_timeout,
        )

    async def sync_committee(
        self, state_id: str, epoch: int | None, request_timeout: float | None
    ) -> Envelope[SyncCommittee]:
        query = [] if epoch is None else [("epoch", str(epoch))]
        return await self._get(
            routes.SYNC_COMMITTEES,
            Envelope[SyncCommittee],
            params={"state_id": state_id},
            query=query,
            request_timeout=request_timeout,
        )

    async def pending_consolidations(
        self, state_id: str, request_timeout: float
    ) -> Chunked[PendingConsolidation]:
        return await self._get(
            routes.PENDING_CONSOLIDATIONS,
            Envelope[tuple[PendingConsolidation, ...]],
            params={"state_id": state_id},
            request_timeout=request_timeout,
        )

    async def pending_deposits(
        self, state_id: str, request_timeout: float
    ) -> Chunked[PendingDeposit]:
        return await self._get(
            routes.PENDING_DEPOSITS,
            Envelope[tuple[PendingDeposit, ...]],
            params={"state_id": state_id},
            request_timeout=request_timeout,
        )
