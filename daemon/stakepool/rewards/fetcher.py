"""``RewardsFetcher``: the I/O edge that reads one window from the beacon node (and the EL).

**Settlement** of window ``k`` (``settle``) needs only what exists once ``LAST(k)`` is past: the
pool's validator records at ``LAST(k − 1)`` and balances at ``LAST(k)``, the pending-deposit and
pending-consolidation queues at both, and the canonical blocks of ``k`` (withdrawals, deposit
requests, proposers, slashings). The blocks are read first and pin the states: the post-state of
the window's last block has the balances of ``LAST(k)`` (no epoch boundary in between, even when
``LAST(k)`` is empty), so both ends are read by state root where a block pins them and by slot
otherwise (see ``_anchors``).

**Explanation** (``explain``) adds the rewards endpoints: attestation rewards of duty epoch
``k − 2`` (computed from the state at ``LAST(k − 1)``, so normally servable as soon as window ``k``
closes — but a node may 404 them until it has that state, or after pruning it), block rewards of
the pool's blocks, and sync-committee rewards of the blocks of ``k``. When they are missing (a node
without the routes — stock older clients, Grandine — or not available yet) the window is still
settled and the explanation is marked unavailable with the reason; call ``explain`` again later.

What is final: a window whose ``finalized`` is true never changes; otherwise the ledger treats it
as provisional and settles it again after a reorg (compare ``block_roots``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import (
    BadRequest,
    BeaconError,
    InconsistentAnswer,
    NotFound,
    Unsupported,
)
from stakepool.beacon.models import (
    AttestationRewards,
    Envelope,
    PendingConsolidation,
    SignedBeaconBlock,
)
from stakepool.chain.spec import ChainSpec
from stakepool.execution.client import ExecutionClient
from stakepool.execution.rpc import ExecutionError
from stakepool.rewards.explaining import (
    AttestationFigures,
    EndpointFigures,
    Record,
    explained_rows,
)
from stakepool.rewards.maths import MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA, settle, sync_seat_reward
from stakepool.rewards.types import BalanceMoves, EpochRewards, ProposalEl, ValidatorEpochReward
from stakepool.rewards.window import (
    SourceState,
    WindowFacts,
    chain_gap,
    consolidation_moves,
    pending_by_pubkey,
    processed_consolidations,
    seat_positions,
    single_seat_member,
    window_facts,
)

log = structlog.get_logger(__name__)

_NO_MOVES = BalanceMoves()


class WindowNotReady(Exception):
    """Window ``k`` has no start state (``k < 1``)."""


class _Unexplained(Exception):
    """An endpoint answered "not available" (404): the explanation must wait."""


@dataclass(frozen=True, slots=True)
class _Window:
    """What ``settle`` read and ``explain`` needs again (kept for a few recent windows)."""

    facts: WindowFacts
    start: Mapping[int, Record]
    end_state_id: str


class RewardsFetcher:
    """Settle and explain windows of the pool's validators.

    ``execution``: an ``ExecutionClient`` for EL rewards (``None``: EL rewards are reported
    unknown, never 0). ``fee_recipients``: the pool's fee-recipient addresses (recognises MEV-boost
    payments; see ``execution.maths.el_reward``). ``keep_windows``: how many settled windows are
    kept in memory for a later ``explain`` without reading them again. ``chunk``: validators per
    request, read one chunk after the other and compacted at once, so a big pool's answers are
    never all in memory as API models together.
    """

    def __init__(
        self,
        client: BeaconClient,
        spec: ChainSpec,
        *,
        execution: ExecutionClient | None = None,
        fee_recipients: Collection[str] = (),
        keep_windows: int = 4,
        chunk: int = 10_000,
    ) -> None:
        self.client = client
        self.spec = spec
        self.execution = execution
        self.fee_recipients = tuple(a.lower() for a in fee_recipients)
        self.keep_windows = max(0, keep_windows)
        self.chunk = max(1, chunk)
        self._windows: OrderedDict[tuple[int, tuple[str, ...]], _Window] = OrderedDict()
        raw = spec.raw
        self.slashing_quotient = int(
            raw.get("MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA", MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA)
        )
        self.slashings_vector = int(raw.get("EPOCHS_PER_SLASHINGS_VECTOR", 8192))

    def last_slot(self, epoch: int) -> int:
        return (epoch + 1) * self.spec.slots_per_epoch - 1

    # --- public --------------------------------------------------------------------------------

    async def epoch(self, epoch: int, pool: Iterable[int]) -> EpochRewards:
        """Settle window ``epoch`` and explain it if the node can."""
        return await self.explain(await self.settle(epoch, pool))

    async def settle(self, epoch: int, pool: Iterable[int]) -> EpochRewards:
        """Balance-based ``r_v(k)`` for every pool validator, plus the pool's proposals' EL rewards.

        Raises ``WindowNotReady`` for ``epoch < 1`` and ``BeaconError`` when the node cannot
        serve the window's states or blocks (``NotFound``: a state it no longer has)."""
        if epoch < 1:
            raise WindowNotReady(f"window {epoch} has no start state (windows begin at 1)")
        indices = sorted(set(pool))
        start_slot, end_slot = self.last_slot(epoch - 1), self.last_slot(epoch)
        blocks = await self._blocks(epoch)
        start_id, end_id = await self._anchors(epoch, blocks)
        try:
            states, queues = await self._read_states(start_id, end_id, indices)
        except NotFound:
            # Some nodes serve only epoch-boundary states by root once they are older: by slot.
            if (start_id, end_id) == (str(start_slot), str(end_slot)):
                raise
            start_id, end_id = str(start_slot), str(end_slot)
            states, queues = await self._read_states(start_id, end_id, indices)
        (start, start_meta), (end, end_meta) = states
        q_start, q_end, c_start, c_end = queues
        facts = window_facts(blocks, self.spec.sync_committee_size)
        # A validator created inside the window has no start record: its pubkey (for deposits)
        # comes from the end state.
        born = [v for v in end if v not in start]
        newcomers = (await self._records(end_id, born))[0] if born else {}
        cons_in, cons_out = await self._consolidation_moves(
            processed_consolidations(c_start, c_end), start, start_id, set(indices)
        )
        rows: list[ValidatorEpochReward] = []
        for v in indices:
            rec = start.get(v) or newcomers.get(v)
            pubkey = rec.pubkey if rec is not None else ""
            figures = {
                "withdrawals_gwei": facts.withdrawals.get(v, 0),
                "deposit_requests_gwei": facts.deposit_requests.get(pubkey, 0),
                "pending_deposits_start_gwei": q_start.get(pubkey, 0),
                "pending_deposits_end_gwei": q_end.get(pubkey, 0),
                "consolidation_in_gwei": cons_in.get(v, 0),
                "consolidation_out_gwei": cons_out.get(v, 0),
            }
            # Most validators move nothing but rewards: share one empty record (100k-pool cost).
            moves = BalanceMoves(**figures) if any(figures.values()) else _NO_MOVES
            s = start.get(v)
            b_start = s.balance if s is not None else 0
            b_end = end.get(v, 0)
            rows.append(
                ValidatorEpochReward(
                    validator=v,
                    epoch=epoch,
                    settlement_gwei=settle(b_start, b_end, moves),
                    balance_start_gwei=b_start,
                    balance_end_gwei=b_end,
                    moves=moves,
                    effective_balance_gwei=s.effective_balance if s is not None else 0,
                )
            )
        proposals = await self._el_rewards(facts, set(indices))
        roots = tuple(b.root for b in facts.blocks)
        self._remember((epoch, roots), _Window(facts, start, end_id))
        return EpochRewards(
            epoch=epoch,
            validators=tuple(rows),
            proposals=proposals,
            start_slot_state=start_slot,
            end_slot_state=end_slot,
            start_state_id=start_id,
            end_state_id=end_id,
            block_roots=roots,
            finalized=start_meta.add(end_meta.finalized, end_meta.optimistic).finalized,
            optimistic=start_meta.optimistic or end_meta.optimistic,
        )

    async def explain(self, settled: EpochRewards) -> EpochRewards:
        """``settled`` with each validator's explanation, residual and missed reward — or, when
        the node cannot tell (yet), ``settled`` with ``explanation_reason`` saying why."""
        k = settled.epoch
        indices = [v.validator for v in settled.validators]
        try:
            window = await self._window(settled, indices)
            if window is None:
                return _unexplained(settled, "the window's blocks changed (reorg): settle it again")
            figures = await self._figures(window, k, indices)
        except _Unexplained as exc:
            return _unexplained(settled, str(exc))
        except Unsupported as exc:
            return _unexplained(settled, f"the node lacks a rewards endpoint: {exc}", never=True)
        except BeaconError as exc:
            return _unexplained(settled, f"rewards failed: {exc}")
        rows = explained_rows(
            settled.validators,
            figures,
            window.start,
            slashing_quotient=self.slashing_quotient,
            slashings_vector=self.slashings_vector,
        )
        return replace(
            settled, validators=rows, explanation_available=True, explanation_reason=None
        )

    # --- windows -------------------------------------------------------------------------------

    def _remember(self, key: tuple[int, tuple[str, ...]], window: _Window) -> None:
        if not self.keep_windows:
            return
        self._windows[key] = window
        self._windows.move_to_end(key)
        while len(self._windows) > self.keep_windows:
            self._windows.popitem(last=False)

    async def _window(self, settled: EpochRewards, indices: Sequence[int]) -> _Window | None:
        """The window as settled, from memory or read again; ``None`` if its blocks changed."""
        key = (settled.epoch, settled.block_roots)
        window = self._windows.get(key)
        if window is not None:
            return window
        start, blocks = await asyncio.gather(
            self._records(settled.start_state_id, indices), self._blocks(settled.epoch)
        )
        facts = window_facts(blocks, self.spec.sync_committee_size)
        if tuple(b.root for b in facts.blocks) != settled.block_roots:
            return None
        return _Window(facts, start[0], settled.end_state_id)

    async def _figures(self, window: _Window, k: int, indices: Sequence[int]) -> EndpointFigures:
        pool = set(indices)
        slashed = sorted({v for b in window.facts.blocks for v in b.slashed} & pool)
        att, block_totals, sync, slashed_records = await asyncio.gather(
            self._attestation_rewards(k - 2, indices),
            self._block_rewards(window.facts, pool),
            self._sync_rewards(window.facts, k, window.end_state_id, indices),
            # The EB slash_validator used: the one in force during epoch k (end state).
            self._records(window.end_state_id, slashed),
        )
        return EndpointFigures(
            attestations=att,
            block_rewards=block_totals,
            sync_rewards=sync,
            slashed_effective_balance={
                v: r.effective_balance for v, r in slashed_records[0].items()
            },
        )

    # --- reads ---------------------------------------------------------------------------------

    async def _anchors(
        self, epoch: int, blocks: Sequence[tuple[str, SignedBeaconBlock]]
    ) -> tuple[str, str]:
        """State ids for both ends of the window, pinned to the fork its blocks are on.

        The post-state of the last block of ``k`` has the balances of ``LAST(k)`` (no epoch
        boundary in between), and so has the post-state of the first block's parent for
        ``LAST(k − 1)`` if that parent is in ``k − 1``. Reading states by those roots, a reorg
        between our requests cannot pair another fork's balances with these blocks. Otherwise
        (an empty window, a parent further back) the states are read by slot."""
        start_id, end_id = str(self.last_slot(epoch - 1)), str(self.last_slot(epoch))
        if not blocks:
            return start_id, end_id
        gap = chain_gap(blocks)
        if gap is not None:
            raise InconsistentAnswer(
                "blocks",
                f"window {epoch}: the block at slot {gap} does not build on the one before it "
                "(a reorg while reading); settle the window again",
            )
        end_id = blocks[-1][1].message.state_root
        parent = await self.client.blocks.header(blocks[0][1].parent_root)
        if parent is not None and parent.data.slot // self.spec.slots_per_epoch == epoch - 1:
            start_id = parent.data.header.message.state_root
        return start_id, end_id

    async def _read_states(
        self, start_id: str, end_id: str, indices: Sequence[int]
    ) -> tuple[
        tuple[tuple[dict[int, Record], _Meta], tuple[dict[int, int], _Meta]],
        tuple[
            dict[str, int],
            dict[str, int],
            tuple[PendingConsolidation, ...],
            tuple[PendingConsolidation, ...],
        ],
    ]:
        return await asyncio.gather(
            asyncio.gather(self._records(start_id, indices), self._balances(end_id, indices)),
            asyncio.gather(
                self._pending(start_id),
                self._pending(end_id),
                self._consolidations(start_id),
                self._consolidations(end_id),
            ),
        )

    async def _records(
        self, state_id: str, indices: Sequence[int]
    ) -> tuple[dict[int, Record], _Meta]:
        out: dict[int, Record] = {}
        meta = _Meta()
        if state_id.startswith("-"):
            return out, meta
        for part in self._chunks(indices):
            env = await self.client.state.validators(state_id, part)
            meta = meta.add(env.finalized, env.execution_optimistic)
            for r in env.data:
                out[int(r.index)] = Record(
                    balance=int(r.balance),
                    effective_balance=int(r.validator.effective_balance),
                    slashed=r.validator.slashed,
                    activation_epoch=int(r.validator.activation_epoch),
                    exit_epoch=int(r.validator.exit_epoch),
                    withdrawable_epoch=int(r.validator.withdrawable_epoch),
                    pubkey=r.validator.pubkey.lower(),
                )
        return out, meta

    async def _balances(
        self, state_id: str, indices: Sequence[int]
    ) -> tuple[dict[int, int], _Meta]:
        out: dict[int, int] = {}
        meta = _Meta()
        for part in self._chunks(indices):
            env = await self.client.state.balances(state_id, part)
            meta = meta.add(env.finalized, env.execution_optimistic)
            out.update((int(b.index), int(b.balance)) for b in env.data)
        return out, meta

    def _chunks(self, indices: Sequence[int]) -> Iterable[Sequence[int]]:
        return (indices[i : i + self.chunk] for i in range(0, len(indices), self.chunk))

    async def _pending(self, state_id: str) -> dict[str, int]:
        if state_id.startswith("-"):
            return {}
        try:
            env = await self.client.state.pending_deposits(state_id)
        except (Unsupported, BadRequest):
            # Before Electra there is no queue (400): deposits credit the balance in their block.
            return {}
        return pending_by_pubkey(env.data)

    async def _consolidations(self, state_id: str) -> tuple[PendingConsolidation, ...]:
        if state_id.startswith("-"):
            return ()
        try:
            return (await self.client.state.pending_consolidations(state_id)).data
        except (Unsupported, BadRequest):
            return ()

    async def _consolidation_moves(
        self,
        processed: Sequence[PendingConsolidation],
        start: Mapping[int, Record],
        start_id: str,
        pool: set[int],
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Moves touching the pool; sources outside the pool are read too (a principal inflow)."""
        relevant = [c for c in processed if c.source_index in pool or c.target_index in pool]
        if not relevant:
            return {}, {}
        missing = sorted({int(c.source_index) for c in relevant} - set(start))
        extra = (await self._records(start_id, missing))[0] if missing else {}
        records = {**extra, **start}
        sources: dict[int, SourceState] = {}
        for c in relevant:
            r = records.get(c.source_index)
            if r is not None:
                sources[c.source_index] = SourceState(r.balance, r.effective_balance, r.slashed)
        return consolidation_moves(relevant, sources)

    async def _blocks(self, epoch: int) -> list[tuple[str, SignedBeaconBlock]]:
        spe = self.spec.slots_per_epoch
        slots = range(epoch * spe, (epoch + 1) * spe)
        found = await asyncio.gather(*(self._block_at(s) for s in slots))
        return [b for b in found if b is not None]

    async def _block_at(self, slot: int) -> tuple[str, SignedBeaconBlock] | None:
        header = await self.client.blocks.header(slot)
        if header is None or not header.data.canonical:
            return None
        root = header.data.root
        block = await self.client.blocks.block(root)
        if block is None:
            raise BeaconError("block", f"block {root} at slot {slot} vanished (reorg?)")
        return root, block.data

    async def _attestation_rewards(
        self, duty_epoch: int, indices: Sequence[int]
    ) -> AttestationFigures | None:
        if duty_epoch < 0:
            return None
        parts: list[AttestationFigures] = []
        for part in self._chunks(indices):
            answer: Envelope[AttestationRewards] | None = await self.client.rewards.attestations(
                duty_epoch, part
            )
            if answer is None:
                raise _Unexplained(f"attestation rewards for epoch {duty_epoch} not available yet")
            parts.append(AttestationFigures.merge([answer.data]))
        return AttestationFigures(
            totals={v: c for p in parts for v, c in p.totals.items()},
            ideal={eb: c for p in parts for eb, c in p.ideal.items()},
        )

    async def _block_rewards(self, facts: WindowFacts, pool: set[int]) -> dict[int, list[int]]:
        ours = [b for b in facts.blocks if b.proposer in pool]
        answers = await asyncio.gather(*(self.client.rewards.block(b.root) for b in ours))
        out: dict[int, list[int]] = {}
        for b, answer in zip(ours, answers, strict=True):
            if answer is None:
                raise _Unexplained(f"block rewards of slot {b.slot} not available")
            out.setdefault(b.proposer, []).append(int(answer.data.total))
        return out

    async def _sync_rewards(
        self, facts: WindowFacts, epoch: int, state_id: str, indices: Sequence[int]
    ) -> dict[int, list[int]]:
        """Per pool member of the sync committee, its reward in each block of the window.

        A node's per-validator figure cannot be trusted for a validator with several seats (some
        clients list one entry per seat, others repeat the validator's aggregate per seat), so the
        per-seat reward is read from a single-seat member and multiplied out over the block's bits
        (accounting.md §3.3)."""
        blocks = [b for b in facts.blocks if b.sync_bits is not None]
        if not blocks:
            return {}
        committee = (await self.client.state.sync_committee(state_id, epoch)).data.validators
        seats = seat_positions(committee, indices)
        if not seats:
            return {}
        probe = single_seat_member(committee, prefer=sorted(seats))
        ask = sorted(set(seats) | ({probe} if probe is not None else set()))
        answers = await asyncio.gather(
            *(self.client.rewards.sync_committee(b.root, ask) for b in blocks)
        )
        out: dict[int, list[int]] = {}
        for b, answer in zip(blocks, answers, strict=True):
            if answer is None:
                raise _Unexplained(f"sync committee rewards of slot {b.slot} not available")
            given = {int(r.validator_index): int(r.reward) for r in answer.data}
            bits = b.sync_bits or ()
            per_seat = abs(given[probe]) if probe is not None and probe in given else None
            for v, positions in seats.items():
                if per_seat is None:  # every member holds several seats: trust the node
                    out.setdefault(v, []).append(given.get(v, 0))
                else:
                    out.setdefault(v, []).append(
                        sync_seat_reward(per_seat, [bits[p] for p in positions])
                    )
        return out

    async def _el_rewards(self, facts: WindowFacts, pool: set[int]) -> tuple[ProposalEl, ...]:
        async def one(slot: int, proposer: int, block_hash: str | None) -> ProposalEl:
            base = ProposalEl(slot=slot, proposer=proposer, block_hash=block_hash)
            if block_hash is None:
                return replace(base, reason="no execution payload")
            if self.execution is None:
                return replace(base, reason="no execution.url configured")
            try:
                reward = await self.execution.el_reward(block_hash, self.fee_recipients)
            except ExecutionError as exc:
                log.warning("el_reward_failed", slot=slot, error=str(exc))
                return replace(base, reason=str(exc))
            return replace(base, reward=reward)

        ours = [b for b in facts.blocks if b.proposer in pool]
        return tuple(await asyncio.gather(*(one(b.slot, b.proposer, b.block_hash) for b in ours)))


def _unexplained(settled: EpochRewards, reason: str, *, never: bool = False) -> EpochRewards:
    return replace(
        settled, explanation_available=False, explanation_reason=reason, explanation_never=never
    )


@dataclass(frozen=True, slots=True)
class _Meta:
    """What the answers said about their states, combined over chunks and states."""

    finalized: bool | None = True
    """Finalized only if every answer is; ``None`` once an answer did not say."""
    optimistic: bool = False

    def add(self, finalized: bool | None, optimistic: bool) -> _Meta:
        both = None if self.finalized is None or finalized is None else self.finalized and finalized
        return _Meta(both, self.optimistic or optimistic)
