"""``RewardsFetcher``: the I/O edge that reads one window from the beacon node (and the EL).

**Settlement** of window ``k`` (``settle``) needs only what exists once ``LAST(k)`` is past: the
pool's validator records (balances, effective balances) at ``LAST(k − 1)`` and ``LAST(k)``, the
pending-deposit queue at both, and the canonical blocks of ``k`` (withdrawals, deposit requests,
proposers, slashings). States are asked for by slot: at an empty ``LAST(k)`` the node answers the
state advanced to that slot, whose balances equal the last block's (no epoch boundary in between).

**Explanation** (``explain``) adds the rewards endpoints: attestation rewards of duty epoch
``k − 2`` (computed from the state at ``LAST(k − 1)``, so normally servable as soon as window ``k``
closes, but a node may 404 them until it has that state, or after pruning it), block rewards of the
pool's blocks and sync-committee rewards of the blocks of ``k``. When they are missing (a node
without the routes — stock older clients, Grandine — or not available yet) the window is still
settled and the explanation is marked unavailable with the reason; call ``explain`` again later.

What is final: a window whose ``finalized`` is true never changes; otherwise the ledger treats it
as provisional and re-settles it after a reorg (compare ``block_roots``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError, Unsupported
from stakepool.beacon.models import AttestationRewards, SignedBeaconBlock, ValidatorInfo
from stakepool.chain.spec import ChainSpec
from stakepool.execution.client import ExecutionClient
from stakepool.execution.rpc import ExecutionError
from stakepool.rewards.maths import (
    MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA,
    AttestationComponents,
    explain,
    initial_slashing_penalty,
    is_correlation_epoch,
    missed,
    residual,
    settle,
    sync_seat_reward,
)
from stakepool.rewards.types import (
    BalanceMoves,
    EpochRewards,
    ProposalEl,
    RewardExplanation,
    ValidatorEpochReward,
)
from stakepool.rewards.window import (
    WindowFacts,
    pending_by_pubkey,
    seat_positions,
    single_seat_member,
    window_facts,
)

log = structlog.get_logger(__name__)


class WindowNotReady(Exception):
    """Window ``k`` cannot be settled yet (its last slot is not past) or its states are gone."""


@dataclass(frozen=True, slots=True)
class _Window:
    """What ``settle`` read and ``explain`` needs again (kept for a few recent windows)."""

    facts: WindowFacts
    start: Mapping[int, ValidatorInfo]
    end: Mapping[int, ValidatorInfo]


class RewardsFetcher:
    """Settle and explain windows of the pool's validators.

    ``execution``: an ``ExecutionClient`` for EL rewards (``None``: EL rewards are reported
    unknown, never 0). ``fee_recipients``: the pool's fee-recipient addresses (recognises MEV-boost
    payments; see ``execution.maths.el_reward``). ``keep_windows``: how many settled windows are
    kept in memory for a later ``explain`` without re-reading them.
    """

    def __init__(
        self,
        client: BeaconClient,
        spec: ChainSpec,
        *,
        execution: ExecutionClient | None = None,
        fee_recipients: Collection[str] = (),
        keep_windows: int = 4,
    ) -> None:
        self.client = client
        self.spec = spec
        self.execution = execution
        self.fee_recipients = tuple(a.lower() for a in fee_recipients)
        self.keep_windows = max(0, keep_windows)
        self._windows: OrderedDict[tuple[int, tuple[str, ...]], _Window] = OrderedDict()
        raw = spec.raw
        self.slashing_quotient = int(
            raw.get("MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA", MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA)
        )
        self.slashings_vector = int(raw.get("EPOCHS_PER_SLASHINGS_VECTOR", 8192))

    # --- slots ---------------------------------------------------------------------------------

    def last_slot(self, epoch: int) -> int:
        return (epoch + 1) * self.spec.slots_per_epoch - 1

    # --- public --------------------------------------------------------------------------------

    async def epoch(self, epoch: int, pool: Iterable[int]) -> EpochRewards:
        """Settle window ``epoch`` and explain it if the node can."""
        return await self.explain(await self.settle(epoch, pool))

    async def settle(self, epoch: int, pool: Iterable[int]) -> EpochRewards:
        """Balance-based ``r_v(k)`` for every pool validator, plus the pool's proposals' EL rewards.

        Raises ``WindowNotReady`` for ``epoch < 1`` (no window before genesis) and
        ``BeaconError`` when the node cannot serve the window's states or blocks."""
        if epoch < 1:
            raise WindowNotReady(f"window {epoch} has no start state (windows begin at 1)")
        indices = sorted(set(pool))
        start_slot, end_slot = self.last_slot(epoch - 1), self.last_slot(epoch)
        (start, start_final), (end, end_final), q_start, q_end, blocks = await asyncio.gather(
            self._records(start_slot, indices),
            self._records(end_slot, indices),
            self._pending(start_slot),
            self._pending(end_slot),
            self._blocks(epoch),
        )
        facts = window_facts(blocks, self.spec.sync_committee_size)
        rows: list[ValidatorEpochReward] = []
        for v in indices:
            s, e = start.get(v), end.get(v)
            known = e or s
            pubkey = known.validator.pubkey.lower() if known is not None else None
            moves = BalanceMoves(
                withdrawals_gwei=facts.withdrawals.get(v, 0),
                deposit_requests_gwei=facts.deposit_requests.get(pubkey, 0) if pubkey else 0,
                pending_deposits_start_gwei=q_start.get(pubkey, 0) if pubkey else 0,
                pending_deposits_end_gwei=q_end.get(pubkey, 0) if pubkey else 0,
            )
            b_start = s.balance if s is not None else 0
            b_end = e.balance if e is not None else 0
            rows.append(
                ValidatorEpochReward(
                    validator=v,
                    epoch=epoch,
                    settlement_gwei=settle(b_start, b_end, moves),
                    balance_start_gwei=b_start,
                    balance_end_gwei=b_end,
                    moves=moves,
                    effective_balance_gwei=s.validator.effective_balance if s is not None else 0,
                )
            )
        proposals = await self._el_rewards(facts, set(indices))
        key = (epoch, tuple(b.root for b in facts.blocks))
        if self.keep_windows:
            self._windows[key] = _Window(facts, start, end)
            while len(self._windows) > self.keep_windows:
                self._windows.popitem(last=False)
        finalized = None if start_final is None or end_final is None else end_final
        return EpochRewards(
            epoch=epoch,
            validators=tuple(rows),
            proposals=proposals,
            start_slot_state=start_slot,
            end_slot_state=end_slot,
            block_roots=key[1],
            finalized=finalized,
        )

    async def explain(self, settled: EpochRewards) -> EpochRewards:
        """``settled`` with each validator's explanation, residual and missed reward — or, if the
        node cannot tell yet, unchanged but for ``explanation_reason``."""
        k = settled.epoch
        indices = [v.validator for v in settled.validators]
        window = self._windows.get((k, settled.block_roots))
        if window is None:
            again = await self.settle(k, indices)
            if again.block_roots != settled.block_roots:
                return replace(settled, explanation_reason="the window's blocks changed (reorg)")
            window = self._windows.get((k, settled.block_roots))
            if window is None:  # keep_windows == 0
                start, end = await asyncio.gather(
                    self._records(again.start_slot_state, indices),
                    self._records(again.end_slot_state, indices),
                )
                blocks = await self._blocks(k)
                window = _Window(
                    window_facts(blocks, self.spec.sync_committee_size), start[0], end[0]
                )
        try:
            att, block_totals, sync = await asyncio.gather(
                self.client.get_attestation_rewards(k - 2, indices) if k >= 2 else _none(),
                self._block_rewards(window.facts, set(indices)),
                self._sync_rewards(window.facts, k, indices),
            )
        except Unsupported as exc:
            return replace(
                settled,
                explanation_available=False,
                explanation_reason=f"the node lacks a rewards endpoint: {exc}",
            )
        except BeaconError as exc:
            return replace(
                settled, explanation_available=False, explanation_reason=f"rewards failed: {exc}"
            )
        if k >= 2 and att is None:
            return replace(
                settled,
                explanation_available=False,
                explanation_reason=f"attestation rewards for epoch {k - 2} not available yet",
            )
        if block_totals is None:
            return replace(
                settled,
                explanation_available=False,
                explanation_reason="block rewards not available for a block of the window",
            )
        if sync is None:
            return replace(
                settled,
                explanation_available=False,
                explanation_reason="sync committee rewards not available for a block of the window",
            )
        rows = _explained_rows(
            settled.validators,
            att=att.data if att is not None else None,
            block_totals=block_totals,
            sync=sync,
            window=window,
            slashing_quotient=self.slashing_quotient,
            slashings_vector=self.slashings_vector,
        )
        return replace(
            settled, validators=rows, explanation_available=True, explanation_reason=None
        )

    # --- reads ---------------------------------------------------------------------------------

    async def _records(
        self, slot: int, indices: Sequence[int]
    ) -> tuple[dict[int, ValidatorInfo], bool | None]:
        if slot < 0 or not indices:
            return {}, True
        env = await self.client.get_validators(slot, indices)
        return {int(r.index): r for r in env.data}, env.finalized

    async def _pending(self, slot: int) -> dict[str, int]:
        try:
            env = await self.client.get_pending_deposits(slot)
        except Unsupported:
            # Before Electra there is no queue: deposits credit the balance in their block.
            return {}
        return pending_by_pubkey(env.data)

    async def _blocks(self, epoch: int) -> list[tuple[str, SignedBeaconBlock]]:
        spe = self.spec.slots_per_epoch
        slots = range(epoch * spe, (epoch + 1) * spe)
        found = await asyncio.gather(*(self._block_at(s) for s in slots))
        return [b for b in found if b is not None]

    async def _block_at(self, slot: int) -> tuple[str, SignedBeaconBlock] | None:
        header = await self.client.get_header(slot)
        if header is None or not header.data.canonical:
            return None
        root = header.data.root
        block = await self.client.get_block(root)
        if block is None:
            raise BeaconError("block", f"block {root} at slot {slot} vanished (reorg?)")
        return root, block.data

    async def _block_rewards(
        self, facts: WindowFacts, pool: set[int]
    ) -> dict[int, list[int]] | None:
        ours = [b for b in facts.blocks if b.proposer in pool]
        answers = await asyncio.gather(*(self.client.get_block_rewards(b.root) for b in ours))
        out: dict[int, list[int]] = {}
        for b, answer in zip(ours, answers, strict=True):
            if answer is None:
                return None
            out.setdefault(b.proposer, []).append(int(answer.data.total))
        return out

    async def _sync_rewards(
        self, facts: WindowFacts, epoch: int, indices: Sequence[int]
    ) -> dict[int, list[int]] | None:
        """Per pool member of the sync committee, its reward in each block of the window.

        The node's per-validator figure cannot be trusted for a validator with several seats (some
        clients list a seat per entry, others repeat the validator's aggregate per seat), so the
        per-seat reward is read from a single-seat member and multiplied out over the block's bits
        (accounting.md §3.3)."""
        blocks = [b for b in facts.blocks if b.sync_bits is not None]
        if not blocks:
            return {}
        committee = (
            await self.client.get_sync_committee(self.last_slot(epoch), epoch)
        ).data.validators
        seats = seat_positions(committee, indices)
        if not seats:
            return {}
        probe = single_seat_member(committee, prefer=sorted(seats))
        ask = sorted(set(seats) | ({probe} if probe is not None else set()))
        answers = await asyncio.gather(
            *(self.client.get_sync_committee_rewards(b.root, ask) for b in blocks)
        )
        out: dict[int, list[int]] = {}
        for b, answer in zip(blocks, answers, strict=True):
            if answer is None:
                return None
            given = {int(r.validator_index): int(r.reward) for r in answer.data}
            bits = b.sync_bits or ()
            pr = abs(given[probe]) if probe is not None and probe in given else None
            for v, positions in seats.items():
                if pr is None:
                    out.setdefault(v, []).append(given.get(v, 0))
                else:
                    out.setdefault(v, []).append(sync_seat_reward(pr, [bits[p] for p in positions]))
        return out

    async def _el_rewards(self, facts: WindowFacts, pool: set[int]) -> tuple[ProposalEl, ...]:
        ours = [b for b in facts.blocks if b.proposer in pool]

        async def one(b_slot: int, proposer: int, block_hash: str | None) -> ProposalEl:
            base = ProposalEl(slot=b_slot, proposer=proposer, block_hash=block_hash)
            if block_hash is None:
                return replace(base, reason="no execution payload")
            if self.execution is None:
                return replace(base, reason="no execution.url configured")
            try:
                reward = await self.execution.el_reward(block_hash, self.fee_recipients)
            except ExecutionError as exc:
                log.warning("el_reward_failed", slot=b_slot, error=str(exc))
                return replace(base, reason=str(exc))
            return replace(base, reward=reward)

        return tuple(await asyncio.gather(*(one(b.slot, b.proposer, b.block_hash) for b in ours)))


async def _none() -> None:
    return None


def _explained_rows(
    rows: Sequence[ValidatorEpochReward],
    *,
    att: AttestationRewards | None,
    block_totals: Mapping[int, list[int]],
    sync: Mapping[int, list[int]],
    window: _Window,
    slashing_quotient: int,
    slashings_vector: int,
) -> tuple[ValidatorEpochReward, ...]:
    totals = {int(r.validator_index): r for r in att.total_rewards} if att is not None else {}
    slashed_in_window = {v for b in window.facts.blocks for v in b.slashed}
    out: list[ValidatorEpochReward] = []
    for row in rows:
        v = row.validator
        t = totals.get(v)
        actual = (
            None
            if t is None
            else AttestationComponents(int(t.source), int(t.target), int(t.head), int(t.inactivity))
        )
        ideal_row = att.ideal_for(row.effective_balance_gwei) if att is not None else None
        ideal = (
            None
            if ideal_row is None
            else AttestationComponents(
                int(ideal_row.source), int(ideal_row.target), int(ideal_row.head)
            )
        )
        end = window.end.get(v)
        start = window.start.get(v)
        penalty = 0
        if v in slashed_in_window and end is not None:
            # The effective balance does not change between epoch transitions: the end state's
            # is the one slash_validator used.
            penalty = initial_slashing_penalty(end.validator.effective_balance, slashing_quotient)
        correlation: int | None = 0
        if start is not None and is_correlation_epoch(
            row.epoch,
            start.validator.slashed,
            int(start.validator.withdrawable_epoch),
            slashings_vector,
        ):
            correlation = None
        explanation: RewardExplanation = explain(
            row.epoch - 2,
            actual,
            block_rewards=block_totals.get(v, ()),
            sync_rewards=sync.get(v, ()),
            slashing_penalty=penalty,
            correlation_penalty=correlation,
        )
        out.append(
            replace(
                row,
                explanation=explanation,
                residual_gwei=residual(row.settlement_gwei, explanation),
                missed_gwei=(
                    missed(ideal, actual)
                    if start is not None and _had_duty(start, row.epoch - 2)
                    else None
                ),
            )
        )
    return tuple(out)


def _had_duty(record: ValidatorInfo, duty_epoch: int) -> bool:
    """Eligible for attestation rewards/penalties in ``duty_epoch`` (``get_eligible_validator_indices``):
    active then, or slashed and not yet withdrawable. Without a duty nothing was missed."""
    v = record.validator
    active = int(v.activation_epoch) <= duty_epoch < int(v.exit_epoch)
    return active or (v.slashed and duty_epoch + 1 < int(v.withdrawable_epoch))
