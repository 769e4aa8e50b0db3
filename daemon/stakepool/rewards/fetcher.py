"""``RewardsFetcher``: settle and explain one window of the pool, from the beacon node (and the EL).

**Settlement** of window ``k`` (``settle``) needs only what exists once ``LAST(k)`` is past: the
canonical blocks of ``k`` and the states at both ends they pin (``SettlementReader``), turned into
money by the pure ``settling.settled_rows``, plus the EL rewards of the pool's proposals
(``ElRewardsReader``).

**Explanation** (``explain``) adds the rewards endpoints (``ExplanationReader``). When they are
missing (a node without the routes — stock older clients, Grandine — or not available yet) the
window is still settled and the explanation is marked unavailable with the reason; call
``explain`` again later. What ``settle`` read and ``explain`` needs again is kept for a few recent
windows (``WindowCache``), or read again.

What is final: a window whose ``finalized`` is true never changes; otherwise the ledger treats it
as provisional and settles it again after a reorg (compare ``block_roots``).

Why composed parts: each reader owns one kind of read and its own state (the client and chunk, the
EL client and fee recipients, the cache's bound), so each can be read, tested and replaced alone;
this class only wires them together and maps the explanation's failures to reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import replace

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError, Unsupported
from stakepool.chain.spec import ChainSpec
from stakepool.execution.client import ExecutionClient
from stakepool.rewards.block_reader import BlockReader
from stakepool.rewards.el_reader import ElRewardsReader
from stakepool.rewards.explaining import explained_rows
from stakepool.rewards.explanation_reader import ExplanationReader, Unexplained
from stakepool.rewards.known_states import KnownStates
from stakepool.rewards.plausibility_check import ImplausibleSettlement, PlausibilityCheck
from stakepool.rewards.settlement_reader import SettlementReader
from stakepool.rewards.settling import last_slot, settled_rows
from stakepool.rewards.state_reader import StateReader
from stakepool.rewards.types import EpochRewards, ValidatorEpochReward
from stakepool.rewards.window_cache import KeptWindow, WindowCache

log = structlog.get_logger(__name__)

Refused = Callable[[ImplausibleSettlement, str | None], Awaitable[None]]


class WindowNotReady(Exception):
    """Window ``k`` has no start state (``k < 1``)."""


class RewardsFetcher:
    """Settle and explain windows of the pool's validators.

    ``execution``: an ``ExecutionClient`` for EL rewards (``None``: EL rewards are reported
    unknown, never 0). ``fee_recipients``: the pool's fee-recipient addresses (recognises MEV-boost
    payments; see ``execution.maths.el_reward``). ``keep_windows``: how many settled windows are
    kept in memory for a later ``explain`` without reading them again. ``chunk``: validators per
    request, read one chunk after the other and compacted at once, so a big pool's answers are
    never all in memory as API models together. ``known``: the pool's records at states the
    daemon already read this epoch (by root), which the windows' ends take instead of a read.
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
        known: KnownStates | None = None,
    ) -> None:
        self.client = client
        self.spec = spec
        self.known = known if known is not None else KnownStates(keep=0)
        states = StateReader(client, chunk=chunk, known=self.known)
        self.settlement = SettlementReader(BlockReader(client, spec), states, spec)
        self.endpoints = ExplanationReader(client, states, chunk=chunk)
        self.el = ElRewardsReader(execution, fee_recipients)
        self.windows = WindowCache(keep_windows)
        self.plausibility = PlausibilityCheck(client, spec)
        self.on_refused: Refused | None = None
        """Told of each refused reading (the node set aside, or None: the window is held); it
        raises the ``rewards_implausible`` event. Without it the refusal is a warning line."""
        raw = spec.raw
        self.slashings_vector = int(raw.get("EPOCHS_PER_SLASHINGS_VECTOR", 8192))

    def last_slot(self, epoch: int) -> int:
        return last_slot(epoch, self.spec.slots_per_epoch)

    async def epoch(self, epoch: int, pool: Iterable[int]) -> EpochRewards:
        """Settle window ``epoch`` and explain it if the node can."""
        return await self.explain(await self.settle(epoch, pool))

    async def settle(self, epoch: int, pool: Iterable[int]) -> EpochRewards:
        """Balance-based ``r_v(k)`` for every pool validator, plus the pool's proposals' EL rewards.

        Raises ``WindowNotReady`` for ``epoch < 1`` and ``BeaconError`` when the node cannot
        serve the window's states or blocks (``NotFound``: a state it no longer has), or gave
        balances the protocol cannot produce (``ImplausibleSettlement``, once the window was read
        again from another node where there is one: the ledger then holds the epoch)."""
        if epoch < 1:
            raise WindowNotReady(f"window {epoch} has no start state (windows begin at 1)")
        indices = sorted(set(pool))
        for attempt in range(2):
            inputs = await self.settlement.read(epoch, indices)
            # Pure maths over every pool validator (~0.5 s at 100,000): in a thread, so the event
            # loop gets its turns (the interpreter hands the GIL over every few ms).
            rows = await asyncio.to_thread(settled_rows, epoch, indices, inputs)
            found = await self.plausibility.implausible(
                epoch, inputs.end_id, inputs.facts, inputs.start, rows
            )
            if not found:
                break
            # Whatever served these states served implausible balances: read them again.
            self.known.forget(inputs.start_id, inputs.end_id)
            refused = ImplausibleSettlement(epoch, found)
            node = self._set_aside() if attempt == 0 else None
            if self.on_refused is None:
                log.warning("rewards_implausible", epoch=epoch, node=node, error=refused.message)
            else:
                await self.on_refused(refused, node)
            if node is None:
                raise refused
        proposals = await self.el.proposals(inputs.facts, set(indices))
        roots = tuple(b.root for b in inputs.facts.blocks)
        self.windows.remember((epoch, roots), KeptWindow(inputs.facts, inputs.start, inputs.end_id))
        return EpochRewards(
            epoch=epoch,
            validators=rows,
            proposals=proposals,
            start_slot_state=self.last_slot(epoch - 1),
            end_slot_state=self.last_slot(epoch),
            start_state_id=inputs.start_id,
            end_state_id=inputs.end_id,
            block_roots=roots,
            finalized=inputs.finalized,
            optimistic=inputs.optimistic,
            pending_consolidations=inputs.consolidations_end,
        )

    def _set_aside(self) -> str | None:
        """The node requests go to first, held off for an epoch so the window is read again from
        the next one; None when there is no other node to ask."""
        usable = [n for n in self.client.pool.nodes if n.health.usable_now()]
        if len(usable) < 2:
            return None
        first = usable[0]
        first.health.answered_badly("implausible balances")
        first.health.hold_off(self.spec.slots_per_epoch * self.spec.slot_duration_ms / 1000)
        return first.url

    async def explain(self, settled: EpochRewards) -> EpochRewards:
        """``settled`` with each validator's explanation, residual and missed reward — or, when
        the node cannot tell (yet), ``settled`` with ``explanation_reason`` saying why."""
        indices = [v.validator for v in settled.validators]
        try:
            window = await self._window(settled, indices)
            if window is None:
                return _unexplained(settled, "the window's blocks changed (reorg): settle it again")
            rows = await self._explained(settled, window, indices)
            if any(r.residual_gwei for r in rows):
                rows = await self._confirmed(settled, window, indices, rows)
        except Unexplained as exc:
            return _unexplained(settled, str(exc))
        except Unsupported as exc:
            return _unexplained(settled, f"the node lacks a rewards endpoint: {exc}", never=True)
        except BeaconError as exc:
            return _unexplained(settled, f"rewards failed: {exc}")
        # Explained: nothing asks for this window's start records again (a window is explained
        # once; a late read of it reads the window again). A 100,000-validator window's are
        # ~30 MB, and the cache would otherwise hold the last few.
        self.windows.forget((settled.epoch, settled.block_roots))
        return replace(
            settled, validators=rows, explanation_available=True, explanation_reason=None
        )

    async def _explained(
        self, settled: EpochRewards, window: KeptWindow, indices: Sequence[int]
    ) -> tuple[ValidatorEpochReward, ...]:
        figures = await self.endpoints.figures(window, settled.epoch, indices)
        return await asyncio.to_thread(  # pure and per validator: off the loop, as settled_rows
            explained_rows,
            settled.validators,
            figures,
            window.start,
            slashing_quotient=self.spec.min_slashing_penalty_quotient(settled.epoch),
            slashings_vector=self.slashings_vector,
        )

    async def _confirmed(
        self,
        settled: EpochRewards,
        window: KeptWindow,
        indices: Sequence[int],
        rows: tuple[ValidatorEpochReward, ...],
    ) -> tuple[ValidatorEpochReward, ...]:
        """An explanation that leaves a residual, read again until two reads agree (at most
        three reads). Why: a damaged answer that still parses (one figure turned to -1) shows only
        as a residual, like a client's rounding, and would be stored as the node's word (final
        rows keep it); a rounding node says the same twice, a damaged answer does not repeat.
        Raises ``Unexplained`` when no two reads agree (the window is asked again later)."""
        reads = [rows]
        for _ in range(2):
            again = await self._explained(settled, window, indices)
            if any(again == earlier for earlier in reads):
                return again
            reads.append(again)
        raise Unexplained("the node's rewards answers differ from one read to the next")

    async def _window(self, settled: EpochRewards, indices: Sequence[int]) -> KeptWindow | None:
        """The window as settled, from memory or read again; ``None`` if its blocks changed."""
        window = self.windows.get((settled.epoch, settled.block_roots))
        if window is not None:
            return window
        return await self.settlement.again(settled, indices)


def _unexplained(settled: EpochRewards, reason: str, *, never: bool = False) -> EpochRewards:
    return replace(
        settled, explanation_available=False, explanation_reason=reason, explanation_never=never
    )
