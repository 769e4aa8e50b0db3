"""Our block proposals: duties per epoch, a verdict per slot, re-judged after a reorg and frozen
once the finalized checkpoint has passed them.

``headers?slot=`` tells an orphaned block (ours, not canonical) from a missed slot. Proposer
duties are read while their epoch is current (some nodes serve them for the current epoch only)
and dropped when the head's dependent root says they changed.

One answer never overturns what was seen or freezes a contradiction: an empty answer where our
block was seen is checked by asking for that block by its root, and a canonical block by another
proposer than the duties name (which the protocol forbids for the same duties) is read again by
its root; an index past the registry limit, or a re-read that disagrees, leaves the verdict as it
was and not final, and the finality re-check is tried again at the next epoch; a duty judged for
the first time that gets such an answer fails its epoch's judgement (asked again, as below),
since it has no verdict to keep. An epoch whose
judgement failed (the node failed every retry within the close) is judged again at the next
closes, oldest first, up to ``PROPOSAL_ATTEMPTS`` closes in all, and between closes too
(``owed``: the service asks, with a backoff, while an epoch is owed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import structlog

from stakepool.beacon.errors import InconsistentAnswer
from stakepool.beacon.models import ChainReorgEvent
from stakepool.beacon.models.blocks import HeaderInfo
from stakepool.chain.types import VALIDATOR_REGISTRY_LIMIT, Epoch, Slot, ValidatorIndex
from stakepool.monitor.context import (
    PART_ERRORS,
    MonitorContext,
    drop_if_dependent_root_changed,
)
from stakepool.monitor.proposals import (
    ProposalTracker,
    ProposerDutyRef,
    TrackedProposal,
    proposer_duty_refs,
)
from stakepool.monitor.saved import MonitorSaved
from stakepool.monitor.verdicts import ProposalVerdict

log = structlog.get_logger(__name__)

PROPOSAL_ATTEMPTS = 3
"""An epoch whose proposals cannot be judged (the node failed every retry within the close) is
tried again at this many epoch closes in all, then given up: bounded work, bounded memory."""

Verdicts = list[tuple[Slot, ValidatorIndex, ProposalVerdict]]


class ProposalsPart:
    def __init__(self, ctx: MonitorContext) -> None:
        self.ctx = ctx
        self.tracker = ProposalTracker(ctx.spe)
        self.duty_cache: dict[Epoch, tuple[str | None, list[ProposerDutyRef]]] = {}
        """Epoch → (dependent root, every proposer's duty): narrowed to the pool when read, so a
        pool change needs no new request (nodes serve an epoch's duties while it is current)."""
        self.finalized: Epoch | None = None
        """The finalized epoch whose proposals were re-checked."""
        self.retries: dict[Epoch, int] = {}
        """Epochs whose judgement failed, with the closes tried so far."""

    def restore(self, saved: MonitorSaved) -> None:
        self.tracker = ProposalTracker(self.ctx.spe, saved.proposals)
        self.finalized = saved.finalized_checked
        self.retries = dict(saved.proposal_retries)

    async def epochs(
        self, c: Epoch, head_slot: int, failed: list[str]
    ) -> list[tuple[Epoch, Verdicts]]:
        """Epochs whose judgement failed at an earlier close, then ``c``, oldest first; the
        verdicts of each epoch judged now. Why retried: a node that failed every request of one
        close (a stall, a burst of bad answers) would otherwise leave the epoch's proposals
        untold for good (no ``block_proposed``/``block_missed`` event, no miss in the ledger)."""
        done: list[tuple[Epoch, Verdicts]] = []
        for k in [*sorted(e for e in self.retries if e < c), c]:
            verdicts = await self._judge_owed(k, head_slot, failed)
            if verdicts is not None:
                done.append((k, verdicts))
                continue
            attempts = self.retries.get(k, 0) + 1
            if attempts >= PROPOSAL_ATTEMPTS:
                log.warning("proposals_given_up", epoch=k, attempts=attempts)
                self.retries.pop(k, None)
                continue
            self.retries[k] = attempts
        return done

    async def owed(
        self, head_slot: int, give_way: Callable[[], bool]
    ) -> list[tuple[Epoch, Verdicts]]:
        """Between closes: the epochs whose judgement failed, tried once more each; the verdicts
        of those judged now. A failure here is not counted against ``PROPOSAL_ATTEMPTS`` (the
        closes count): why tried between closes at all, the last close before the chain halts
        (or before a long stop) would otherwise leave its epoch untold until a close that may
        never come."""
        done: list[tuple[Epoch, Verdicts]] = []
        for k in sorted(self.retries):
            if give_way():
                break  # a close is waiting: it tries the rest
            verdicts = await self._judge_owed(k, head_slot, [], between_closes=True)
            if verdicts is not None:
                done.append((k, verdicts))
        return done

    async def _judge_owed(
        self, k: Epoch, head_slot: int, failed: list[str], *, between_closes: bool = False
    ) -> Verdicts | None:
        judge = functools.partial(self.judge, k, head_slot)
        verdicts = await self.ctx.part(
            "proposals",
            k,
            failed,
            judge,
            idempotent=True,
            warn=not between_closes,
            attempts=1 if between_closes else None,
        )
        if verdicts is not None:
            self.retries.pop(k, None)
        return verdicts

    def on_dependent_root(self, epoch: Epoch, root: str | None) -> None:
        drop_if_dependent_root_changed(self.duty_cache, epoch, root)

    async def duties(self, epoch: Epoch) -> list[ProposerDutyRef]:
        ctx = self.ctx
        cached = self.duty_cache.get(epoch)
        if cached is None:
            answer = await ctx.client.duties.proposer(epoch)
            cached = self.duty_cache[epoch] = (
                answer.dependent_root,
                proposer_duty_refs(answer.data),
            )
            ours = set(ctx.ours)
            for slot in range(ctx.start(epoch), ctx.last(epoch) + 1):
                if all(r.slot != slot or r.validator_index not in ours for r in cached[1]):
                    self.tracker.forget(slot)  # a reload moved the duty away from us
        ours = set(ctx.ours)
        return [r for r in cached[1] if r.validator_index in ours]

    async def judge(
        self, epoch: Epoch, head_slot: int
    ) -> list[tuple[Slot, ValidatorIndex, ProposalVerdict]]:
        out: list[tuple[Slot, ValidatorIndex, ProposalVerdict]] = []
        for duty in await self.duties(epoch):
            if duty.slot == 0:
                continue  # the genesis block is nobody's proposal (its proposer field is 0)
            headers = await self._look(duty)
            if headers is None:
                # Nothing to rely on for this duty yet: the epoch is judged again (within the
                # close, then between closes) rather than left without its verdict for good.
                raise InconsistentAnswer(
                    "headers", f"slot {duty.slot}: the node's answers about our duty disagree"
                )
            self.ctx.emit(self.tracker.update(duty, headers, head_slot))
            verdict = self.tracker.verdict(duty.slot)
            if verdict is not None:
                out.append((duty.slot, duty.validator_index, verdict))
        # Kept from the oldest epoch still to be judged again (a retry reads its duties here).
        oldest = min([epoch, *self.retries])
        self.duty_cache = {e: d for e, d in self.duty_cache.items() if e >= oldest - 2}
        return out

    async def rejudge_from(self, first_slot: int, head_slot: int) -> int:
        """Verdicts not yet final of slots from ``first_slot`` on, judged again (after a reorg);
        the number of slots re-judged."""
        slots = [
            (slot, tracked)
            for slot, tracked in sorted(self.tracker.state.items())
            if not tracked.final and slot >= first_slot
        ]
        for slot, tracked in slots:
            duty = ProposerDutyRef(tracked.outcome.validator_index, slot)
            headers = await self._look(duty, tracked)
            if headers is not None:
                self.ctx.emit(self.tracker.update(duty, headers, head_slot))
        return len(slots)

    async def after_reorg(self, reorg: ChainReorgEvent) -> None:
        """Our proposals from the common ancestor on are judged again now, not at the next epoch:
        a block of ours that the reorg dropped is told ``orphaned`` at once."""
        try:
            n = await self.rejudge_from(reorg.slot - reorg.depth, reorg.slot)
        except PART_ERRORS as exc:  # the epoch's own judgement and finality re-check remain
            log.warning(
                "monitor_part_failed", part="reorg_rejudge", slot=reorg.slot, error=str(exc)
            )
            return
        if n:
            log.info("proposals_rejudged_after_reorg", slot=reorg.slot, depth=reorg.depth, slots=n)

    async def recheck_final(self, finalized: Epoch, head_slot: int) -> bool:
        """Verdicts of slots before the finalized checkpoint are judged once more and frozen;
        False if a slot's answers contradicted each other (it stays as it was, not final)."""
        boundary = self.ctx.start(finalized)
        complete = True
        for slot, tracked in sorted(self.tracker.state.items()):
            if tracked.final or slot >= boundary:
                continue
            duty = ProposerDutyRef(tracked.outcome.validator_index, slot)
            headers = await self._look(duty, tracked)
            if headers is None:
                complete = False
                continue
            self.ctx.emit(self.tracker.update(duty, headers, head_slot, finalized=True))
        self.tracker.prune(boundary - 2 * self.ctx.spe)
        return complete

    async def _look(
        self, duty: ProposerDutyRef, tracked: TrackedProposal | None = None
    ) -> Sequence[HeaderInfo] | None:
        """The blocks the node knows at the duty's slot, cross-checked where this one answer
        would overturn what was seen or contradict the duties; None: nothing to rely on now."""
        blocks = self.ctx.client.blocks
        headers = (await blocks.headers_at_slot(duty.slot)).data
        at_slot = [h for h in headers if h.slot == duty.slot]
        canonical = next((h for h in at_slot if h.canonical), None)
        if canonical is not None and canonical.proposer_index != duty.validator_index:
            if canonical.proposer_index >= VALIDATOR_REGISTRY_LIMIT:
                self._distrust(duty, f"proposer_index {canonical.proposer_index} past the registry")
                return None
            again = await blocks.header(canonical.root)
            if again is None or again.data != canonical:
                self._distrust(duty, "the block read again by its root disagrees")
                return None
            return headers
        seen = None if tracked is None else tracked.outcome.root
        if not at_slot and seen is None:
            # Nothing at our slot, said once, would be told "missed" for good: asked again, as a
            # damaged answer (an emptied list) does not repeat; two reads that disagree fail the
            # judgement, which is retried.
            reread = (await blocks.headers_at_slot(duty.slot)).data
            if any(h.slot == duty.slot for h in reread):
                raise InconsistentAnswer(
                    "headers", f"slot {duty.slot}: two reads disagree about our block"
                )
        if not at_slot and seen is not None:
            # Empty where our block was seen: the block itself says whether it is still there
            # (a node that no longer knows it at all is an answer too: it was dropped).
            again = await blocks.header(seen)
            return () if again is None else (again.data,)
        return headers

    @staticmethod
    def _distrust(duty: ProposerDutyRef, why: str) -> None:
        log.warning(
            "proposal_answer_distrusted",
            slot=duty.slot,
            validator=duty.validator_index,
            reason=why,
            hint="verdict kept as it was, not final; read again later",
        )

    async def after_finality(
        self, epoch: Epoch, finalized: Epoch, head_slot: int, failed: list[str]
    ) -> None:
        """Once the finalized checkpoint moved: the final re-check (else the next epoch tries)."""
        if self.finalized is not None and finalized <= self.finalized:
            return
        checked = await self.ctx.part(
            "finality_recheck", epoch, failed, lambda: self.recheck_final(finalized, head_slot)
        )
        if checked:
            self.finalized = finalized
