"""``BeaconClient``: the beacon layer's composition root.

It builds the pool of beacon nodes (failover, retries, per-node health) and the query parts over
it, and owns what concerns the pool as a whole: the genesis check at startup, the health
snapshots, closing. Every endpoint lives in exactly one part, called through it:

* ``client.node`` — genesis, spec (and ``slots_per_epoch()``), syncing, version, health;
* ``client.state`` — validators, balances, finality checkpoints (and ``is_finalized``),
  committees, sync committee, pending deposits and consolidations;
* ``client.blocks`` — header(s), block, blinded block, a block's attestations;
* ``client.duties`` — proposer, attester and sync duties, liveness;
* ``client.rewards`` — attestation, block and sync committee rewards;
* ``client.op_pool`` — the operation pools (``client.pool`` is the node pool).

Methods that read chain data return an ``Envelope`` (data plus ``execution_optimistic``,
``finalized``, ``version``, ``dependent_root``). Where a 404 is a data answer, the method returns
``None`` (no block at that slot, rewards not available yet) or raises ``NotFound`` (no such state).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from stakepool.beacon import routes
from stakepool.beacon.backoff import Backoff
from stakepool.beacon.batching import GET_MAX_IDS
from stakepool.beacon.errors import BeaconError, GenesisConflict, NodeUnavailable, WrongChain
from stakepool.beacon.failover import Node, NodePool, parse_genesis
from stakepool.beacon.genesis_trust import choose_reference
from stakepool.beacon.health import NodeHealth
from stakepool.beacon.models import Genesis
from stakepool.beacon.probe import HealthProbe
from stakepool.beacon.queries import (
    BlockQueries,
    DutyQueries,
    NodeQueries,
    OpPoolQueries,
    RewardQueries,
    StateQueries,
)
from stakepool.beacon.requester import Requester
from stakepool.beacon.state_fallback import StandIn
from stakepool.beacon.status import classify
from stakepool.beacon.transport import DEFAULT_MAX_RESPONSE_BYTES, TransportError

_ROOT = re.compile(r"0x[0-9a-fA-F]{64}")


class BeaconClient:
    """Several beacon nodes (``urls``, in order of preference) behind typed query parts.

    Timeouts are seconds: ``timeout`` per ordinary request, ``bulk_timeout`` for requests that read
    many validators (validators, balances, committees, rewards, attester duties, pending deposits),
    ``connect_timeout`` for the TCP connect. Every query also takes ``request_timeout=`` to override.
    ``retries`` is per request per node (5xx/429/timeouts) before failing over. ``batch_size`` ids go
    in one POST; GET fallbacks use ``get_batch_size`` (≤ 64, the spec's limit). A body larger than
    ``max_response_bytes`` is not read (``MalformedResponse``). ``unsupported_ttl`` is how long a
    node's "route missing" answer is remembered before the route is tried on it again. ``auth``
    (``user:password`` or a whole ``Authorization`` value) goes to every node; a URL's own
    ``user:password@`` is taken off it (nodes are named by the bare URL everywhere) and sent as
    that node's HTTP Basic credentials instead.
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
        auth: str | None = None,
        deadline_slots: float = 0.5,
        min_deadline: float = 1.0,
        probe_interval_slots: float = 1.0,
    ) -> None:
        if batch_size < 1 or not 1 <= get_batch_size <= GET_MAX_IDS:
            raise ValueError("batch_size must be ≥ 1 and get_batch_size within 1..64")
        if timeout <= 0 or bulk_timeout <= 0 or connect_timeout <= 0 or retries < 0:
            raise ValueError("timeouts must be positive and retries ≥ 0")
        if deadline_slots <= 0 or min_deadline <= 0 or probe_interval_slots <= 0:
            raise ValueError("deadline_slots, min_deadline and probe_interval_slots must be > 0")
        self.deadline_slots = deadline_slots
        self.min_deadline = min_deadline
        self.probe_interval_slots = probe_interval_slots
        self.deadline: float | None = None
        self.pool = NodePool(
            urls,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            retry_backoff=retry_backoff or Backoff(base=0.25, maximum=5.0),
            offline_backoff=offline_backoff or Backoff(base=1.0, maximum=30.0),
            unsupported_ttl=unsupported_ttl,
            max_response_bytes=max_response_bytes,
            auth=auth,
        )
        self.timeout = timeout
        self.bulk_timeout = bulk_timeout
        requester = Requester(
            self.pool,
            batch_size=batch_size,
            get_batch_size=get_batch_size,
            bulk_timeout=bulk_timeout,
        )
        self.node = NodeQueries(requester)
        self.blocks = BlockQueries(requester)
        stand_in = StandIn(self.blocks.header, self.node.slots_per_epoch)
        self.state = StateQueries(requester, self.node, stand_in)
        self.duties = DutyQueries(requester, self.node)
        self.rewards = RewardQueries(requester)
        self.op_pool = OpPoolQueries(requester)

    async def close(self) -> None:
        await self.pool.close()

    def pace(self, slot_seconds: float) -> HealthProbe:
        """Tie the request budgets to the chain's slot; the health probe to run beside them.

        An ordinary request gets ``deadline_slots`` of a slot on a node, retries included (at
        least ``min_deadline``, at most ``timeout``) before it fails over; the heavy reads keep
        ``bulk_timeout``. The probe asks every node each ``probe_interval_slots`` of a slot with
        the same deadline, so a hung node is noticed within a slot or two.
        """
        if slot_seconds <= 0:
            raise ValueError("slot_seconds must be positive")
        deadline = min(self.timeout, max(self.min_deadline, self.deadline_slots * slot_seconds))
        self.deadline = deadline
        for node in self.pool.nodes:
            node.transport.deadline = deadline
        return HealthProbe(
            self.pool.nodes,
            interval=max(0.05, self.probe_interval_slots * slot_seconds),
            deadline=deadline,
        )

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

        The reference root is ``expected_root`` if configured; else the root a strict majority of
        the nodes report, or, while the answering nodes all agree, theirs provisionally
        (``genesis_trust``: never simply the first answer). A node that disagrees with a backed
        reference is excluded for good (logged as an error), or with ``strict`` the method raises
        ``WrongChain`` naming it. Nodes that do not answer now are verified before their first
        use. Raises ``GenesisConflict`` (excluding nobody) if the nodes disagree with no
        configured root and no majority, ``WrongChain`` if no node is on the configured chain,
        and ``NodeUnavailable`` if none answered.
        """
        if expected_root is not None and not _ROOT.fullmatch(expected_root):
            raise ValueError(f"expected_root must be 0x + 64 hex characters, got {expected_root!r}")
        nodes = [n for n in self.pool.nodes if n.health.excluded is None]
        answers = await asyncio.gather(*(self._genesis_of(n) for n in nodes))
        roots = {
            n.url: a.genesis_validators_root
            for n, a in zip(nodes, answers, strict=True)
            if isinstance(a, Genesis)
        }
        configured = expected_root.lower() if expected_root else None
        choice = choose_reference(roots, configured=configured, nodes=len(nodes))
        pool = self.pool
        pool.agreeing = dict(roots)
        if choice.conflict is not None:
            pool.declare_conflict()
            raise GenesisConflict("genesis", choice.conflict)
        reference = choice.root
        if reference is None:
            reasons = "; ".join(f"{n.url}: {a}" for n, a in zip(nodes, answers, strict=True))
            raise NodeUnavailable("genesis", f"no node answered ({reasons})")
        pool.expected_root, pool.root_backed, pool.conflict = reference, choice.backed, None
        pool.root_source = (
            "configured [beacon] genesis_root" if configured else "the majority of the nodes"
        )
        chosen: Genesis | None = None
        mismatches: list[WrongChain] = []
        for node, answer in zip(nodes, answers, strict=True):
            if not isinstance(answer, Genesis):
                continue
            if node.url in choice.outliers:
                mismatch = WrongChain(node.url, reference, answer.genesis_validators_root)
                pool.exclude(node, mismatch)
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
            # One ``timeout`` for all its attempts: a node that accepts TCP and never answers
            # must not hold start-up for timeout × attempts (the others answered long ago).
            answer = await node.transport.request(
                routes.GENESIS, routes.GENESIS.path(), request_timeout=self.timeout
            )
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
