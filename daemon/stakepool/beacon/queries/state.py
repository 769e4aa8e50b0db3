"""``client.state``: facts read from a beacon state: validators, balances, finality checkpoints,
committees, sync committees, the pending deposit and consolidation queues.

Each endpoint asks at the state id given; where a node cannot serve a *slot's* state, the same
facts come from a block's state (``StandIn``, the ``state_fallback`` rule). More fallbacks: POST
validators/validator_balances → GET with repeated ``id=`` (≤ 64 per request), when POST is
``Unsupported`` on every usable node. A balances answer with fewer entries than the ids asked
(stock Lodestar v1.5.1 answers ``[]`` to ``?id=<index>``) → the balances are read from the
validators endpoint for the same ids, which carries each validator's ``balance`` too; a validator
missing there as well does not exist in that state.

Validator id lists are normalised (pubkeys lower-case), de-duplicated and sent in chunks; an empty
list is never sent (the API reads it as "the whole registry"): the answer is empty, no request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from stakepool.beacon import routes
from stakepool.beacon.batching import merge_envelopes_with, normalize_ids
from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models import (
    STATUS_GROUPS,
    Committee,
    Envelope,
    FinalityCheckpoints,
    PendingConsolidation,
    PendingDeposit,
    StateRoot,
    SyncCommittee,
    ValidatorBalance,
    ValidatorInfo,
    ValidatorStatus,
)
from stakepool.beacon.models.columns import (
    BalanceColumns,
    ValidatorColumns,
    decode_balances,
    decode_validators,
)
from stakepool.beacon.parsing import raw_parser
from stakepool.beacon.queries.node import NodeQueries
from stakepool.beacon.requester import Requester, StateId, none_if_not_found
from stakepool.beacon.state_fallback import StandIn, slot_of

D = TypeVar("D")


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


class StateQueries:
    def __init__(self, requester: Requester, node: NodeQueries, stand_in: StandIn) -> None:
        self._req = requester
        self._node = node
        self._stand_in = stand_in

    async def validators(
        self,
        state_id: StateId,
        ids: Iterable[int | str],
        statuses: Iterable[ValidatorStatus | str] | None = None,
        *,
        request_timeout: float | None = None,
    ) -> Envelope[tuple[ValidatorInfo, ...]]:
        """Our validators (indices and/or pubkeys); POST in chunks, GET ``id=``×64 if POST is missing.

        One model per validator: for the few (keys, duties, the web page). The epoch's big reads
        take ``validator_columns``."""
        answer = await self.validator_columns(
            state_id, ids, statuses, request_timeout=request_timeout
        )
        return _with_data(answer, tuple(answer.data.infos()))

    async def validator_columns(
        self,
        state_id: StateId,
        ids: Iterable[int | str],
        statuses: Iterable[ValidatorStatus | str] | None = None,
        *,
        request_timeout: float | None = None,
    ) -> Envelope[ValidatorColumns]:
        """``validators`` as columns (indices, balances, statuses… one array each)."""
        wanted = normalize_ids(ids)
        timeout = self._req.bulk(request_timeout)
        return await self._stand_in.at_state(
            state_id, lambda sid: self._validators_at(sid, wanted, statuses, timeout)
        )

    async def _validators_at(
        self,
        state_id: str,
        ids: list[str],
        statuses: Iterable[ValidatorStatus | str] | None,
        request_timeout: float,
    ) -> Envelope[ValidatorColumns]:
        wanted = expand_statuses(statuses)
        params: dict[str, object] = {"state_id": state_id}
        if not ids:
            return _merge_validators([])

        async def post(chunk: list[str]) -> Envelope[ValidatorColumns]:
            body: dict[str, list[str]] = {"ids": chunk}
            if wanted:
                body["statuses"] = wanted
            return await self._req.parsed(
                routes.VALIDATORS_POST,
                raw_parser(routes.VALIDATORS_POST, decode_validators),
                body=body,
                params=params,
                request_timeout=request_timeout,
            )

        async def get(chunk: list[str]) -> Envelope[ValidatorColumns]:
            query = [("id", i) for i in chunk] + [("status", s) for s in wanted]
            return await self._req.parsed(
                routes.VALIDATORS_GET,
                raw_parser(routes.VALIDATORS_GET, decode_validators),
                params=params,
                query=query,
                request_timeout=request_timeout,
            )

        return await self._req.post_or_get_with(ids, post, get, _merge_validators)

    async def balances(
        self, state_id: StateId, ids: Iterable[int | str], *, request_timeout: float | None = None
    ) -> Envelope[tuple[ValidatorBalance, ...]]:
        answer = await self.balance_columns(state_id, ids, request_timeout=request_timeout)
        return _with_data(answer, tuple(answer.data.rows()))

    async def balance_columns(
        self, state_id: StateId, ids: Iterable[int | str], *, request_timeout: float | None = None
    ) -> Envelope[BalanceColumns]:
        """``balances`` as two columns (indices, balances)."""
        wanted = normalize_ids(ids)
        timeout = self._req.bulk(request_timeout)
        return await self._stand_in.at_state(
            state_id, lambda sid: self._balances_at(sid, wanted, timeout)
        )

    async def _balances_at(
        self, state_id: str, ids: list[str], request_timeout: float
    ) -> Envelope[BalanceColumns]:
        params: dict[str, object] = {"state_id": state_id}
        if not ids:
            return _merge_balances([])

        async def post(chunk: list[str]) -> Envelope[BalanceColumns]:
            return await self._req.parsed(
                routes.BALANCES_POST,
                raw_parser(routes.BALANCES_POST, decode_balances),
                body=chunk,
                params=params,
                request_timeout=request_timeout,
            )

        async def get(chunk: list[str]) -> Envelope[BalanceColumns]:
            query = [("id", i) for i in chunk]
            return await self._req.parsed(
                routes.BALANCES_GET,
                raw_parser(routes.BALANCES_GET, decode_balances),
                params=params,
                query=query,
                request_timeout=request_timeout,
            )

        answer = await self._req.post_or_get_with(ids, post, get, _merge_balances)
        if len(set(answer.data.index)) >= len(ids):
            return answer
        records = await self._validators_at(state_id, ids, None, request_timeout)
        if len(records.data) <= len(answer.data):
            return answer  # the ids the balances lack do not exist there either
        # Every validator the balances lack, with its balance, from the validators answer.
        return _with_data(records, records.data.balances())

    async def finality_checkpoints(
        self, state_id: StateId = "head", *, request_timeout: float | None = None
    ) -> Envelope[FinalityCheckpoints]:
        """Raises ``InconsistentAnswer`` for checkpoints no state holds: finalized or previous
        justified after the current justified, or (a slot's state) any after the slot's epoch.
        A damaged number that still parses (2⁶⁴−1) as the justified epoch would mark every
        member's source vote wrong."""
        answer = await self._stand_in.at_state(
            state_id,
            lambda sid: self._req.get(
                routes.FINALITY,
                Envelope[FinalityCheckpoints],
                params={"state_id": sid},
                request_timeout=request_timeout,
            ),
            checkpoints=True,
        )
        c = answer.data
        epochs = (c.previous_justified.epoch, c.current_justified.epoch, c.finalized.epoch)
        slot = slot_of(str(state_id))
        latest = None if slot is None else slot // await self._node.slots_per_epoch()
        if max(epochs[0], epochs[2]) > epochs[1] or (latest is not None and max(epochs) > latest):
            raise InconsistentAnswer(
                routes.FINALITY.name,
                f"checkpoints no state at {state_id} holds (previous justified, justified,"
                f" finalized epochs: {', '.join(map(str, epochs))})",
            )
        return answer

    async def root(
        self, state_id: StateId, *, request_timeout: float | None = None
    ) -> Envelope[StateRoot] | None:
        """The node's root of that state; None: the node does not hold it (pruned, unknown)."""
        return await none_if_not_found(
            self._req.get(
                routes.STATE_ROOT,
                Envelope[StateRoot],
                params={"state_id": str(state_id)},
                request_timeout=request_timeout,
            )
        )

    async def is_finalized(self, answer: Envelope[Any], slot: int) -> bool:
        """Whether ``answer`` (about ``slot``) is final: its ``finalized`` flag, or where the node
        does not send one, ``slot`` against the head's finalized checkpoint."""
        if answer.finalized is not None:
            return answer.finalized
        checkpoints = await self.finality_checkpoints("head")
        return slot <= checkpoints.data.finalized.epoch * await self._node.slots_per_epoch()

    async def committees(
        self,
        state_id: StateId,
        *,
        epoch: int | None = None,
        slot: int | None = None,
        index: int | None = None,
        request_timeout: float | None = None,
    ) -> Envelope[tuple[Committee, ...]]:
        timeout = self._req.bulk(request_timeout)
        query = [
            (k, str(v))
            for k, v in (("epoch", epoch), ("slot", slot), ("index", index))
            if v is not None
        ]
        return await self._stand_in.at_state(
            state_id,
            lambda sid: self._req.get(
                routes.COMMITTEES,
                Envelope[tuple[Committee, ...]],
                params={"state_id": sid},
                query=query,
                request_timeout=timeout,
            ),
        )

    async def sync_committee(
        self, state_id: StateId, epoch: int | None = None, *, request_timeout: float | None = None
    ) -> Envelope[SyncCommittee]:
        query = [] if epoch is None else [("epoch", str(epoch))]
        return await self._stand_in.at_state(
            state_id,
            lambda sid: self._req.get(
                routes.SYNC_COMMITTEES,
                Envelope[SyncCommittee],
                params={"state_id": sid},
                query=query,
                request_timeout=request_timeout,
            ),
        )

    async def pending_deposits(
        self, state_id: StateId = "head", *, request_timeout: float | None = None
    ) -> Envelope[tuple[PendingDeposit, ...]]:
        timeout = self._req.bulk(request_timeout)
        return await self._stand_in.at_state(
            state_id,
            lambda sid: self._req.get(
                routes.PENDING_DEPOSITS,
                Envelope[tuple[PendingDeposit, ...]],
                params={"state_id": sid},
                request_timeout=timeout,
            ),
        )

    async def pending_consolidations(
        self, state_id: StateId = "head", *, request_timeout: float | None = None
    ) -> Envelope[tuple[PendingConsolidation, ...]]:
        """Electra's consolidation queue (``BadRequest`` before Electra, ``Unsupported`` where
        the node lacks the route)."""
        timeout = self._req.bulk(request_timeout)
        return await self._stand_in.at_state(
            state_id,
            lambda sid: self._req.get(
                routes.PENDING_CONSOLIDATIONS,
                Envelope[tuple[PendingConsolidation, ...]],
                params={"state_id": sid},
                request_timeout=timeout,
            ),
        )


def _merge_validators(parts: Sequence[Envelope[ValidatorColumns]]) -> Envelope[ValidatorColumns]:
    return merge_envelopes_with(parts, ValidatorColumns.concat, ValidatorColumns.empty())


def _merge_balances(parts: Sequence[Envelope[BalanceColumns]]) -> Envelope[BalanceColumns]:
    return merge_envelopes_with(parts, BalanceColumns.concat, BalanceColumns.concat([]))


def _with_data(answer: Envelope[Any], data: D) -> Envelope[D]:
    return Envelope[D].model_construct(
        data=data,
        execution_optimistic=answer.execution_optimistic,
        finalized=answer.finalized,
        version=answer.version,
        dependent_root=answer.dependent_root,
    )
