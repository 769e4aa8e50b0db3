"""``BeaconClient``: typed methods for every Beacon API call the daemon makes, over failover.

Methods that read chain data return an ``Envelope`` (data plus ``execution_optimistic``,
``finalized``, ``version``, ``dependent_root``). Where a 404 is a data answer, the method returns
``None`` (no block at that slot, rewards not available yet) or raises ``NotFound`` (no such state).

Validator id lists are normalised (pubkeys lower-case), de-duplicated and sent in chunks
(``batch_size`` per POST, at most 64 per GET); an empty list is never sent, because the API reads
it as "the whole registry" — the method returns an empty answer without a request.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import structlog

from stakepool.beacon import routes
from stakepool.beacon.backoff import Backoff
from stakepool.beacon.batching import GET_MAX_IDS, normalize_ids, normalize_indices
from stakepool.beacon.errors import (
    BeaconError,
    InconsistentAnswer,
    NodeUnavailable,
    NotFound,
    NotReady,
    WrongChain,
)
from stakepool.beacon.failover import Node, NodePool, parse_genesis
from stakepool.beacon.health import NodeHealth
from stakepool.beacon.models import (
    Attestation,
    AttestationRewards,
    AttesterDuty,
    AttesterSlashing,
    BlockRewards,
    Committee,
    Envelope,
    FinalityCheckpoints,
    Genesis,
    HeaderInfo,
    Liveness,
    PendingConsolidation,
    PendingDeposit,
    ProposerDuty,
    ProposerSlashing,
    Readiness,
    SignedBeaconBlock,
    SignedVoluntaryExit,
    SyncCommittee,
    SyncCommitteeReward,
    SyncDuty,
    Syncing,
    ValidatorBalance,
    ValidatorInfo,
    ValidatorStatus,
    Version,
)
from stakepool.beacon.queries_chain import ChainQueries
from stakepool.beacon.queries_state import StateQueries
from stakepool.beacon.state_fallback import block_slot_for_state, slot_of
from stakepool.beacon.status import classify
from stakepool.beacon.transport import DEFAULT_MAX_RESPONSE_BYTES, HttpAnswer, TransportError

log = structlog.get_logger(__name__)

_ROOT = re.compile(r"0x[0-9a-fA-F]{64}")
StateId = str | int
BlockId = str | int
R = TypeVar("R")


class BeaconClient:
    """Several beacon nodes (``urls``, in order of preference) behind typed async methods.

    Timeouts are seconds: ``timeout`` per ordinary request, ``bulk_timeout`` for requests that read
    many validators (validators, balances, committees, rewards, attester duties, pending deposits),
    ``connect_timeout`` for the TCP connect. Every method also takes ``request_timeout=`` to override.
    ``retries`` is per request per node (5xx/429/timeouts) before failing over. ``batch_size`` ids go
    in one POST; GET fallbacks use ``get_batch_size`` (≤ 64, the spec's limit). A body larger than
    ``max_response_bytes`` is not read (``MalformedResponse``). ``unsupported_ttl`` is how long a
    node's "route missing" answer is remembered before the route is tried on it again.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = 10.0,
        bulk_timeout: float = 120.0,
        connect_timeout: float = 3.0,
        retries: int = 3,
        batch_size: int = 10_000,
        get_batch_size: int = GET_MAX_IDS,
        retry_backoff: Backoff | None = None,
        offline_backoff: Backoff | None = None,
        unsupported_ttl: float = 3600.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if batch_size < 1 or not 1 <= get_batch_size <= GET_MAX_IDS:
            raise ValueError("batch_size must be ≥ 1 and get_batch_size within 1..64")
        if timeout <= 0 or bulk_timeout <= 0 or connect_timeout <= 0 or retries < 0:
            raise ValueError("timeouts must be positive and retries ≥ 0")
        self.pool = NodePool(
            urls,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            retry_backoff=retry_backoff or Backoff(base=0.25, maximum=5.0),
            offline_backoff=offline_backoff or Backoff(base=1.0, maximum=30.0),
            unsupported_ttl=unsupported_ttl,
            max_response_bytes=max_response_bytes,
        )
        self.timeout = timeout
        self.bulk_timeout = bulk_timeout
        self._state = StateQueries(self.pool, batch_size=batch_size, get_batch_size=get_batch_size)
        self._chain = ChainQueries(self.pool, batch_size=batch_size, get_batch_size=get_batch_size)
        self._slots_per_epoch: int | None = None

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> BeaconClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.pool.nodes]

    def health(self) -> list[NodeHealth]:
        """A snapshot per node, in preference order (for metrics and ``/readyz``)."""
        return self.pool.health()

    # --- startup -------------------------------------------------------------------------------

    async def check_genesis(
        self, expected_root: str | None = None, *, strict: bool = False
    ) -> Genesis:
        """Ask every node for its genesis; refuse nodes on another chain.

        The reference root is ``expected_root`` if configured, else the first answering node's.
        A node that disagrees is excluded for good (logged as an error), or with ``strict`` the
        method raises ``WrongChain`` naming it. Nodes that do not answer now are verified before
        their first use. Raises ``WrongChain`` if no node is on the expected chain, and
        ``NodeUnavailable`` if none answered.
        """
        if expected_root is not None and not _ROOT.fullmatch(expected_root):
            raise ValueError(f"expected_root must be 0x + 64 hex characters, got {expected_root!r}")
        nodes = [n for n in self.pool.nodes if n.health.excluded is None]
        answers = await asyncio.gather(*(self._genesis_of(n) for n in nodes))
        reference = expected_root.lower() if expected_root else None
        if reference is None:
            reference = next(
                (a.genesis_validators_root for a in answers if isinstance(a, Genesis)), None
            )
        if reference is None:
            reasons = "; ".join(f"{n.url}: {a}" for n, a in zip(nodes, answers, strict=True))
            raise NodeUnavailable("genesis", f"no node answered ({reasons})")
        self.pool.expected_root = reference
        chosen: Genesis | None = None
        mismatches: list[WrongChain] = []
        for node, answer in zip(nodes, answers, strict=True):
            if not isinstance(answer, Genesis):
                continue
            if answer.genesis_validators_root != reference:
                mismatch = WrongChain(node.url, reference, answer.genesis_validators_root)
                self.pool.exclude(node, mismatch)
                mismatches.append(mismatch)
                continue
            node.verified_root = reference
            chosen = chosen or answer
        if strict and mismatches:
            raise mismatches[0]
        if chosen is None:
            if mismatches:
                raise mismatches[0]
            raise NodeUnavailable("genesis", "no node on the expected chain answered")
        return chosen

    async def _genesis_of(self, node: Node) -> Genesis | BeaconError:
        try:
            answer = await node.transport.request(routes.GENESIS, routes.GENESIS.path())
        except TransportError as exc:
            node.health.unreachable(str(exc))
            return NodeUnavailable("genesis", str(exc), node=node.url)
        error = classify(routes.GENESIS, answer, node.url)
        if error is not None:
            return error
        try:
            genesis = parse_genesis(answer, node.url)
        except BeaconError as exc:
            node.health.answered_badly("malformed genesis")
            return exc
        node.health.success()
        return genesis

    # --- node ----------------------------------------------------------------------------------

    async def get_genesis(self) -> Genesis:
        return await self._state.genesis()

    async def get_spec(self) -> dict[str, Any]:
        """The flat ``config/spec`` map, values raw (``chain.spec.ChainSpec.from_api`` reads it)."""
        return await self._state.spec()

    async def get_syncing(self, *, node: str | None = None) -> Syncing:
        return await self._state.syncing(node)

    async def get_version(self, *, node: str | None = None) -> Version:
        return await self._state.version(node)

    async def get_health(self, *, node: str | None = None) -> Readiness:
        """``node/health`` of ``node`` (default: the first usable node): a status code only."""
        target = node or self.pool.candidates(routes.HEALTH)[0][0].url

        def parse(answer: HttpAnswer, _node: str) -> Readiness:
            return Readiness.SYNCING if answer.status == 206 else Readiness.READY

        try:
            return await self.pool.call(routes.HEALTH, parse, node=target)
        except NotReady:
            return Readiness.NOT_READY

    # --- state ---------------------------------------------------------------------------------

    async def get_validators(
        self,
        state_id: StateId,
        ids: Iterable[int | str],
        statuses: Iterable[ValidatorStatus | str] | None = None,
        *,
        request_timeout: float | None = None,
    ) -> Envelope[tuple[ValidatorInfo, ...]]:
        """Our validators (indices and/or pubkeys); POST in chunks, GET ``id=``×64 if POST is missing."""
        wanted = normalize_ids(ids)
        timeout = request_timeout or self.bulk_timeout
        return await self._at_state(
            state_id, lambda sid: self._state.validators(sid, wanted, statuses, timeout)
        )

    async def get_balances(
        self, state_id: StateId, ids: Iterable[int | str], *, request_timeout: float | None = None
    ) -> Envelope[tuple[ValidatorBalance, ...]]:
        wanted = normalize_ids(ids)
        timeout = request_timeout or self.bulk_timeout
        return await self._at_state(
            state_id, lambda sid: self._state.balances(sid, wanted, timeout)
        )

    async def get_finality_checkpoints(
        self, state_id: StateId = "head", *, request_timeout: float | None = None
    ) -> Envelope[FinalityCheckpoints]:
        return await self._at_state(
            state_id, lambda sid: self._state.finality(sid, request_timeout), checkpoints=True
        )

    async def get_committees(
        self,
        state_id: StateId,
        *,
        epoch: int | None = None,
        slot: int | None = None,
        index: int | None = None,
        request_timeout: float | None = None,
    ) -> Envelope[tuple[Committee, ...]]:
        timeout = request_timeout or self.bulk_timeout
        return await self._at_state(
            state_id, lambda sid: self._state.committees(sid, epoch, slot, index, timeout)
        )

    async def get_sync_committee(
        self, state_id: StateId, epoch: int | None = None, *, request_timeout: float | None = None
    ) -> Envelope[SyncCommittee]:
        return await self._at_state(
            state_id, lambda sid: self._state.sync_committee(sid, epoch, request_timeout)
        )

    async def get_pending_deposits(
        self, state_id: StateId = "head", *, request_timeout: float | None = None
    ) -> Envelope[tuple[PendingDeposit, ...]]:
        timeout = request_timeout or self.bulk_timeout
        return await self._at_state(
            state_id, lambda sid: self._state.pending_deposits(sid, timeout)
        )

    async def get_pending_consolidations(
        self, state_id: StateId = "head", *, request_timeout: float | None = None
    ) -> Envelope[tuple[PendingConsolidation, ...]]:
        """Electra's consolidation queue (``BadRequest`` before Electra, ``Unsupported`` where
        the node lacks the route)."""
        timeout = request_timeout or self.bulk_timeout
        return await self._at_state(
            state_id, lambda sid: self._state.pending_consolidations(sid, timeout)
        )

    async def _at_state(
        self, state_id: StateId, call: Callable[[str], Awaitable[R]], *, checkpoints: bool = False
    ) -> R:
        """``call`` at ``state_id``; a slot's state the node cannot serve → a block's state that
        holds the same facts (``state_fallback``), or the original ``NotFound``."""
        sid = str(state_id)
        try:
            return await call(sid)
        except NotFound as exc:
            slot = slot_of(sid)
            if slot is None:
                raise
            original = exc
        stand_in = await self._stand_in_slot(slot, checkpoints=checkpoints)
        if stand_in is None:
            raise original
        log.debug("state at an empty slot read from a block's state", slot=slot, block=stand_in)
        return await call(str(stand_in))

    async def _stand_in_slot(self, slot: int, *, checkpoints: bool) -> int | None:
        async def block_at(s: int) -> bool:
            header = await self.get_header(s)
            return header is not None and header.data.canonical and header.data.slot == s

        head_slot = None
        if checkpoints:
            head = await self.get_header("head")
            head_slot = head.data.slot if head is not None else slot
        return await block_slot_for_state(
            slot,
            await self.slots_per_epoch(),
            block_at,
            head_slot=head_slot,
            forward=checkpoints,
        )

    async def slots_per_epoch(self) -> int:
        """The spec's ``SLOTS_PER_EPOCH`` (asked once)."""
        if self._slots_per_epoch is None:
            spec = await self.get_spec()
            self._slots_per_epoch = int(str(spec["SLOTS_PER_EPOCH"]))
        return self._slots_per_epoch

    async def is_finalized(self, answer: Envelope[Any], slot: int) -> bool:
        """Whether ``answer`` (about ``slot``) is final: its ``finalized`` flag, or where the node
        does not send one, ``slot`` against the head's finalized checkpoint."""
        if answer.finalized is not None:
            return answer.finalized
        checkpoints = await self.get_finality_checkpoints("head")
        return slot <= checkpoints.data.finalized.epoch * await self.slots_per_epoch()

    # --- blocks --------------------------------------------------------------------------------

    async def get_header(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[HeaderInfo] | None:
        """None: no canonical block at that slot (or no such block)."""
        return await self._chain.header(str(block_id), request_timeout)

    async def get_headers_at_slot(
        self, slot: int, *, request_timeout: float | None = None
    ) -> Envelope[tuple[HeaderInfo, ...]]:
        """Every block the node knows at ``slot``, canonical or not (orphaned vs never seen)."""
        return await self._chain.headers_at_slot(slot, request_timeout)

    async def get_block(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[SignedBeaconBlock] | None:
        return await self._chain.block(str(block_id), request_timeout)

    async def get_blinded_block(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[SignedBeaconBlock] | None:
        """The blinded block; the full block where the route is missing (same model either way)."""
        return await self._chain.blinded_block(str(block_id), request_timeout)

    async def get_block_attestations(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[tuple[Attestation, ...]] | None:
        """v2 attestations; falls back to v1, then to the block body."""
        return await self._chain.block_attestations(str(block_id), request_timeout)

    # --- duties --------------------------------------------------------------------------------

    async def get_proposer_duties(
        self, epoch: int, *, request_timeout: float | None = None
    ) -> Envelope[tuple[ProposerDuty, ...]]:
        """Raises ``InconsistentAnswer`` for duties at slots outside ``epoch`` (stock Lodestar
        v1.5.1 answers the next epoch with the current epoch's slots): wrong duties would judge
        the wrong slots; ask again once the epoch has begun."""
        answer = await self._chain.proposer_duties(epoch, request_timeout)
        spe = await self.slots_per_epoch()
        stray = [d.slot for d in answer.data if d.slot // spe != epoch]
        if stray:
            raise InconsistentAnswer(
                routes.PROPOSER_DUTIES.name,
                f"duties for epoch {epoch} list slots of another epoch: {stray[:4]}",
            )
        return answer

    async def get_attester_duties(
        self, epoch: int, indices: Iterable[int], *, request_timeout: float | None = None
    ) -> Envelope[tuple[AttesterDuty, ...]]:
        return await self._chain.attester_duties(
            epoch, normalize_indices(indices), request_timeout or self.bulk_timeout
        )

    async def get_sync_duties(
        self, epoch: int, indices: Iterable[int], *, request_timeout: float | None = None
    ) -> Envelope[tuple[SyncDuty, ...]]:
        return await self._chain.sync_duties(epoch, normalize_indices(indices), request_timeout)

    async def get_liveness(
        self, epoch: int, indices: Iterable[int], *, request_timeout: float | None = None
    ) -> Envelope[tuple[Liveness, ...]]:
        """POST liveness; the legacy ``GET ?indices=&epoch=`` form where POST is missing."""
        return await self._chain.liveness(epoch, normalize_indices(indices), request_timeout)

    # --- rewards -------------------------------------------------------------------------------

    async def get_attestation_rewards(
        self, epoch: int, indices: Iterable[int | str], *, request_timeout: float | None = None
    ) -> Envelope[AttestationRewards] | None:
        """None: not available (yet or any more) on the node."""
        return await self._chain.attestation_rewards(
            epoch, normalize_ids(indices), request_timeout or self.bulk_timeout
        )

    async def get_block_rewards(
        self, block_id: BlockId, *, request_timeout: float | None = None
    ) -> Envelope[BlockRewards] | None:
        return await self._chain.block_rewards(str(block_id), request_timeout)

    async def get_sync_committee_rewards(
        self,
        block_id: BlockId,
        indices: Iterable[int | str],
        *,
        request_timeout: float | None = None,
    ) -> Envelope[tuple[SyncCommitteeReward, ...]] | None:
        """One entry per validator (summed over its seats: Nimbus lists each seat)."""
        return await self._chain.sync_rewards(
            str(block_id), normalize_ids(indices), request_timeout
        )

    # --- pools ---------------------------------------------------------------------------------

    async def get_pool_attester_slashings(
        self, *, request_timeout: float | None = None
    ) -> Envelope[tuple[AttesterSlashing, ...]]:
        """v2; v1 where v2 is missing."""
        return await self._chain.pool_attester_slashings(request_timeout)

    async def get_pool_proposer_slashings(
        self, *, request_timeout: float | None = None
    ) -> Envelope[tuple[ProposerSlashing, ...]]:
        return await self._chain.pool_proposer_slashings(request_timeout)

    async def get_pool_voluntary_exits(
        self, *, request_timeout: float | None = None
    ) -> Envelope[tuple[SignedVoluntaryExit, ...]]:
        return await self._chain.pool_voluntary_exits(request_timeout)
