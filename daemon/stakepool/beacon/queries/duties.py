"""``client.duties``: the validator API by epoch and index: proposer, attester and sync committee
duties, and liveness (was the validator seen in the epoch).

Index lists are de-duplicated and sent in ``batch_size`` chunks; an empty list is never sent.
Duties whose dependent root changes between chunks (a reorg) are asked for once more. Fallback:
POST liveness → the legacy ``GET ?indices=&epoch=`` form (≤ 64 per request), when POST is
``Unsupported`` on every usable node.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterable, Sequence

from stakepool.beacon import routes
from stakepool.beacon.batching import merge_envelopes_with, normalize_indices
from stakepool.beacon.errors import InconsistentAnswer, Unsupported
from stakepool.beacon.models import (
    AttesterDuty,
    Envelope,
    LegacyLiveness,
    Liveness,
    ProposerDuty,
    SyncDuty,
)
from stakepool.beacon.models.columns import replace_data
from stakepool.beacon.models.duty_columns import AttesterDutyColumns, decode_attester_duties
from stakepool.beacon.parsing import raw_parser
from stakepool.beacon.queries.node import NodeQueries
from stakepool.beacon.requester import Chunked, Requester
from stakepool.chain.types import VALIDATOR_REGISTRY_LIMIT


class DutyQueries:
    def __init__(self, requester: Requester, node: NodeQueries) -> None:
        self._req = requester
        self._node = node

    async def proposer(
        self, epoch: int, *, request_timeout: float | None = None
    ) -> Envelope[tuple[ProposerDuty, ...]]:
        """Raises ``InconsistentAnswer`` for duties at slots outside ``epoch`` (stock Lodestar
        v1.5.1 answers the next epoch with the current epoch's slots): wrong duties would judge
        the wrong slots; ask again once the epoch has begun."""
        answer: Chunked[ProposerDuty] = await self._req.get(
            routes.PROPOSER_DUTIES,
            Envelope[tuple[ProposerDuty, ...]],
            params={"epoch": epoch},
            request_timeout=request_timeout,
        )
        spe = await self._node.slots_per_epoch()
        stray = [d.slot for d in answer.data if d.slot // spe != epoch]
        if stray:
            raise InconsistentAnswer(
                routes.PROPOSER_DUTIES.name,
                f"duties for epoch {epoch} list slots of another epoch: {stray[:4]}",
            )
        _check_one_proposer_per_slot(epoch, spe, answer.data)
        return answer

    async def attester(
        self, epoch: int, indices: Iterable[int], *, request_timeout: float | None = None
    ) -> Envelope[tuple[AttesterDuty, ...]]:
        answer = await self.attester_columns(epoch, indices, request_timeout=request_timeout)
        return replace_data(answer, tuple(answer.data.rows()))

    async def attester_columns(
        self, epoch: int, indices: Iterable[int], *, request_timeout: float | None = None
    ) -> Envelope[AttesterDutyColumns]:
        """``attester`` as columns (the monitor's 100,000 duties, no model each)."""
        wanted = normalize_indices(indices)
        timeout = self._req.bulk(request_timeout)
        parse = raw_parser(routes.ATTESTER_DUTIES, decode_attester_duties)

        async def post(chunk: list[str]) -> Envelope[AttesterDutyColumns]:
            return await self._req.parsed(
                routes.ATTESTER_DUTIES,
                parse,
                body=chunk,
                params={"epoch": epoch},
                request_timeout=timeout,
            )

        def merge(parts: Sequence[Envelope[AttesterDutyColumns]]) -> Envelope[AttesterDutyColumns]:
            empty = AttesterDutyColumns([], *(array("Q") for _ in range(6)))
            return merge_envelopes_with(parts, AttesterDutyColumns.concat, empty)

        answer = await self._req.batched_with(wanted, self._req.batch_size, post, merge)
        if len(answer.data.slot):  # nothing to check (nor a spec to ask) for no duty
            spe = await self._node.slots_per_epoch()
            _check_attester_duties(epoch, spe, {int(i) for i in wanted}, answer.data)
        return answer

    async def sync(
        self, epoch: int, indices: Iterable[int], *, request_timeout: float | None = None
    ) -> Envelope[tuple[SyncDuty, ...]]:
        wanted = normalize_indices(indices)
        model = Envelope[tuple[SyncDuty, ...]]

        async def post(chunk: list[str]) -> Chunked[SyncDuty]:
            return await self._req.post(
                routes.SYNC_DUTIES,
                model,
                chunk,
                params={"epoch": epoch},
                request_timeout=request_timeout,
            )

        return await self._req.batched(wanted, self._req.batch_size, post)

    async def liveness(
        self, epoch: int, indices: Iterable[int], *, request_timeout: float | None = None
    ) -> Envelope[tuple[Liveness, ...]]:
        """POST liveness; the legacy ``GET ?indices=&epoch=`` form where POST is missing."""
        wanted = normalize_indices(indices)

        async def post(chunk: list[str]) -> Chunked[Liveness]:
            return await self._req.post(
                routes.LIVENESS,
                Envelope[tuple[Liveness, ...]],
                chunk,
                params={"epoch": epoch},
                request_timeout=request_timeout,
            )

        async def legacy(chunk: list[str]) -> Chunked[Liveness]:
            query = [("indices", i) for i in chunk] + [("epoch", str(epoch))]
            env: Envelope[tuple[LegacyLiveness, ...]] = await self._req.get(
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

        if not wanted:
            return self._req.empty()
        try:
            return await self._req.batched(wanted, self._req.batch_size, post)
        except Unsupported:
            return await self._req.batched(wanted, self._req.get_batch_size, legacy)


def _check_one_proposer_per_slot(epoch: int, spe: int, duties: Sequence[ProposerDuty]) -> None:
    """The protocol names exactly one proposer for every slot of an epoch: an answer that lists
    fewer (an empty or cut list), a slot twice, or an index past the registry is not a node's
    view of the chain but a damaged answer, and taken as it is it would silently drop one of our
    proposals (no verdict, no event, no miss in the ledger). Slot 0 may be absent: the genesis
    block has no proposer."""
    slots = [int(d.slot) for d in duties]
    expected = set(range(max(epoch * spe, 1), (epoch + 1) * spe))
    if len(slots) != len(set(slots)) or not expected <= set(slots):
        missing = sorted(expected - set(slots))
        raise InconsistentAnswer(
            routes.PROPOSER_DUTIES.name,
            f"duties for epoch {epoch} do not name one proposer per slot"
            f" ({len(slots)} duties; slots missing: {missing[:4]})",
        )
    past = [int(d.validator_index) for d in duties if d.validator_index >= VALIDATOR_REGISTRY_LIMIT]
    if past:
        raise InconsistentAnswer(
            routes.PROPOSER_DUTIES.name,
            f"duties for epoch {epoch} name validator indices past the registry: {past[:4]}",
        )


MAX_COMMITTEES_PER_SLOT = 64
"""The protocol's committees per slot (64 on every network so far)."""
MAX_VALIDATORS_PER_COMMITTEE = 2048
"""The protocol's largest committee (2,048 on every network so far)."""


def _check_attester_duties(
    epoch: int, spe: int, asked: set[int], duties: AttesterDutyColumns
) -> None:
    """Every attester duty within the protocol's bounds: a slot of ``epoch``, a committee the
    slot has, a position the committee has, a validator we asked about. A damaged answer
    that still parses (a uint64 such as 2⁶⁴−1 in any of these) would otherwise judge a member's
    vote against the wrong committee or bit, and tell a miss that never happened."""
    where = routes.ATTESTER_DUTIES.name
    if min(duties.slot) < epoch * spe or max(duties.slot) >= (epoch + 1) * spe:
        stray = [s for s in duties.slot if s // spe != epoch]
        raise InconsistentAnswer(where, f"duties for epoch {epoch} list other slots: {stray[:4]}")
    cas, length = duties.committees_at_slot, duties.committee_length
    for bad, what in (
        (
            min(cas) < 1 or max(cas) > MAX_COMMITTEES_PER_SLOT,
            "give committees per slot outside 1..64",
        ),
        (any(map(operator.ge, duties.committee_index, cas)), "name a committee past the slot's"),
        (
            min(length) < 1 or max(length) > MAX_VALIDATORS_PER_COMMITTEE,
            "give committee lengths outside 1..2048",
        ),
        (
            any(map(operator.ge, duties.validator_committee_index, length)),
            "place a validator past its committee's length",
        ),
    ):
        if bad:
            raise InconsistentAnswer(where, f"duties for epoch {epoch} {what}")
    stray = sorted(set(duties.validator_index) - asked)
    if stray:
        raise InconsistentAnswer(
            where, f"duties for epoch {epoch} name validators not asked for: {stray[:4]}"
        )
