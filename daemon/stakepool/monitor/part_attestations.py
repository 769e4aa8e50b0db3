"""Our attester duties judged against the canonical blocks of their inclusion window.

Epoch ``k``'s duties are judged at the close of ``k + 1`` (the window ends at ``LAST(k + 1)``).
An epoch whose evaluation fails is retried at the next closes, oldest first (streaks count in
order), up to ``ATTESTATION_ATTEMPTS``; a later epoch evaluated meanwhile gives the older ones up
(a gap: the streaks break) instead of letting one old failure cascade into stale ones on a node
that prunes. Each epoch is counted once (``through``), so a redo after a restart counts nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import cast

import structlog

from stakepool.beacon.errors import BeaconError, NotFound
from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.duty_columns import AttesterDutyColumns
from stakepool.beacon.models.state import Checkpoint
from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.attestation_count import apply_count, plan_count
from stakepool.monitor.attestations import (
    AttesterDutyRef,
    InclusionBlock,
    committee_lengths_from_committees,
    committee_lengths_from_duties,
    evaluate_attestations,
    inclusion_block,
    slots_needing_committees,
)
from stakepool.monitor.context import MonitorContext, drop_if_dependent_root_changed
from stakepool.monitor.digest import AttestationDigest
from stakepool.monitor.saved import MonitorSaved
from stakepool.monitor.streaks import MissedStreaks

log = structlog.get_logger("stakepool.monitor")

ATTESTATION_ATTEMPTS = 3
"""An epoch whose attestations cannot be evaluated is tried at this many epoch closes, then
given up (the node is still failing, or the blocks are gone): bounded work, bounded memory."""


class AttestationsPart:
    def __init__(self, ctx: MonitorContext, scan: Callable[[SignedBeaconBlock], None]) -> None:
        self.ctx = ctx
        self._scan = scan
        """Told of each canonical block fetched here (slashings, exits in it)."""
        self.streaks = MissedStreaks(ctx.thresholds.missed_attestation_streak)
        self.duty_cache: dict[Epoch, tuple[str | None, AttesterDutyColumns]] = {}
        """Epoch → (dependent root, our duties). Kept as the answer's columns without the pubkeys
        (judged by index): a few arrays, where one object per duty (200,000 for two epochs at
        100,000 validators) lived on between epochs and made each full collection of the garbage
        collector walk them all."""
        self.justified: dict[Epoch, Checkpoint] = {}
        """Epoch → the justified checkpoint at its first slot, read while the epoch was recent."""
        self.through: Epoch | None = None
        """The last epoch whose attestations were evaluated and counted."""
        self.retries: dict[Epoch, int] = {}
        self.unknown: dict[Epoch, frozenset[ValidatorIndex]] = {}
        """Cached epochs whose duties lack members added since (``repool``)."""

    def restore(self, saved: MonitorSaved) -> None:
        self.streaks = MissedStreaks(self.ctx.thresholds.missed_attestation_streak, saved.streaks)
        self.through = saved.attestations_through
        self.retries = dict(saved.attestation_retries)
        for v in self.ctx.ours:
            self.ctx.tallies.set_missed_attestation_streak(v, self.streaks.streak(v))

    def on_dependent_root(self, epoch: Epoch, root: str | None) -> None:
        drop_if_dependent_root_changed(self.duty_cache, epoch, root)

    def oldest_kept(self, default: int) -> int:
        """The first slot whose blocks a retried epoch may still need."""
        return min([default, *(self.ctx.start(k) for k in self.retries)])

    def repool(
        self,
        ours: frozenset[ValidatorIndex],
        added: frozenset[ValidatorIndex],
        from_epoch: int | None = None,
    ) -> None:
        """The pool changed: cached duties keep the members still in it, and the members added
        are asked for on their own when an epoch already cached is judged (a node serves an
        epoch's attester duties only while it is recent: asking again for everyone could cost
        every member's verdict of that epoch)."""
        self.duty_cache = {
            e: (root, cols.only(ours)) for e, (root, cols) in self.duty_cache.items()
        }
        for e in self.duty_cache:
            if from_epoch is None or e >= from_epoch:  # members from their boundary on only
                self.unknown[e] = self.unknown.get(e, frozenset()) | added

    async def duties(self, epoch: int) -> AttesterDutyColumns:
        e = Epoch(epoch)
        cached = self.duty_cache.get(e)
        if cached is None:
            self.unknown.pop(e, None)
            answer = await self.ctx.client.duties.attester_columns(e, self.ctx.ours)
            cached = self.duty_cache[e] = (answer.dependent_root, answer.data.without_pubkeys())
        elif e in self.unknown:
            missing = sorted(self.unknown.pop(e) & set(self.ctx.ours))
            try:
                added = (
                    await self.ctx.client.duties.attester_columns(e, missing) if missing else None
                )
            except BeaconError as exc:  # too old for the node: those members unjudged there
                log.info("attester_duties_of_new_members_unknown", epoch=e, error=str(exc))
                added = None
            if added is not None:
                both = AttesterDutyColumns.concat([cached[1], added.data.without_pubkeys()])
                cached = self.duty_cache[e] = (cached[0], both)
        return cached[1]

    async def justified_at(self, k: Epoch) -> Checkpoint:
        """The source checkpoint of epoch ``k``'s attestations: the justified checkpoint in the
        state at ``FIRST(k)``. Read again when judging (it follows the canonical chain); if the
        node no longer has that state (pruned behind finality: stock Lodestar, when a retried
        epoch held this one back), the value read at ``k``'s own close stands in."""
        try:
            answer = await self.ctx.client.state.finality_checkpoints(self.ctx.start(k))
        except NotFound:
            kept = self.justified.get(k)
            if kept is None:
                raise
            return kept
        self.justified[k] = answer.data.current_justified
        for old in [e for e in self.justified if e < k - 16]:  # epochs given up long ago
            del self.justified[old]
        return answer.data.current_justified

    async def evaluate(self, k: Epoch) -> AttestationDigest | None:
        """Epoch ``k``'s attester duties against the canonical blocks of its inclusion window;
        None if ``k`` was already counted (a redo after a restart)."""
        ctx = self.ctx
        if self.through is not None and k <= self.through:
            return None
        columns = await self.duties(k)
        first, last = ctx.start(k), ctx.last(k + 1)
        await ctx.blocks.load(first, last, self._scan)  # a retried epoch's window, if pruned
        window = [inclusion_block(b) for b in ctx.blocks.blocks(first, last)]
        spe, mcps = ctx.spe, ctx.spec.max_committees_per_slot
        # One object per duty, made here and dropped with the evaluation: off the loop.
        duties, lengths, needing = await asyncio.to_thread(_prepare, k, columns, window, spe, mcps)
        for slot in needing:
            committees = await ctx.client.state.committees(slot, slot=slot)
            for key, length in committee_lengths_from_committees(committees.data).items():
                lengths.setdefault(key, length)  # the duties' own lengths win over `committees`
        justified = await self.justified_at(k)
        chain = await ctx.blocks.chain(first, ctx.last(k), last)
        # Pure, over every pool validator's duty: in a thread so the event loop keeps its turns.
        outcomes = await asyncio.to_thread(
            evaluate_attestations,
            k,
            duties,
            window,
            chain=chain,
            justified=justified,
            committee_lengths=lengths,
            slots_per_epoch=spe,
            max_committees_per_slot=mcps,
        )
        # From here on synchronous: the epoch is counted entirely or not at all.
        if self.through is not None and k > self.through + 1:
            log.info("attestation_streaks_reset", after=self.through, epoch=k)
            self.streaks.gap()
            for v in ctx.ours:
                ctx.tallies.set_missed_attestation_streak(v, 0)
        self.duty_cache = {e: d for e, d in self.duty_cache.items() if e > k}
        self.unknown = {e: u for e, u in self.unknown.items() if e > k}
        self.justified = {e: j for e, j in self.justified.items() if e > k}
        # The per-validator work away from the loop (~0.8 s at 100,000), reading the tracker and
        # the tallies only: nothing else changes them meanwhile (the monitor's parts run one
        # after the other). Then one short step applies it all, or nothing if cancelled before.
        count = await asyncio.to_thread(plan_count, k, outcomes, self.streaks, ctx.tallies)
        apply_count(count, self.streaks, ctx.tallies)
        self.through = k
        ctx.emit(count.events)
        return count.digest

    async def epochs(
        self, c: Epoch, have_blocks: bool, failed: list[str]
    ) -> tuple[AttestationDigest | None, list[AttestationDigest]]:
        """Epochs whose evaluation failed before, then ``c − 1``, oldest first (streaks count in
        order). A failed epoch does not hold the later ones back: they are tried too, and once a
        later epoch is evaluated the earlier failures can no longer count in order and are given
        up (a gap: the streaks break). While everything fails (the node is down) each failed
        epoch is kept for the next close, up to ``ATTESTATION_ATTEMPTS``. Why not wait: a node
        that prunes (or serves duties only for recent epochs) would turn one old failure into a
        cascade of stale, failing evaluations.

        Returns the digest of ``c − 1`` and those of the earlier epochs evaluated now (retries,
        oldest first): each carries verdicts the ledger's rows of its epoch need."""
        todo = sorted(self.retries)
        if c > 0 and Epoch(c - 1) not in self.retries:
            todo.append(Epoch(c - 1))
        latest: AttestationDigest | None = None
        earlier: list[AttestationDigest] = []
        behind: list[Epoch] = []
        for k in todo:
            done = None
            if have_blocks:
                done = await self.ctx.part(
                    "attestations", k, failed, functools.partial(self.evaluate, k)
                )
            counted = self.through is not None and k <= self.through
            if done is not None or counted:
                self.retries.pop(k, None)
                for lost in behind:
                    attempts = self.retries.pop(lost, 0)
                    log.warning(
                        "attestations_given_up", epoch=lost, attempts=attempts, later=int(k)
                    )
                behind.clear()
                if k == c - 1:
                    latest = done
                elif done is not None:
                    earlier.append(done)
                continue
            attempts = self.retries.get(k, 0) + 1
            if attempts >= ATTESTATION_ATTEMPTS:
                log.warning("attestations_given_up", epoch=k, attempts=attempts)
                self.retries.pop(k, None)
                continue  # the next evaluated epoch breaks the streaks (a gap)
            self.retries[k] = attempts
            behind.append(k)
        return latest, earlier


def _prepare(
    k: int, columns: AttesterDutyColumns, window: list[InclusionBlock], spe: int, mcps: int
) -> tuple[list[AttesterDutyRef], dict[tuple[int, int], int], list[Slot]]:
    """The duties as refs, the committee lengths they give, and the slots whose committees must
    be read besides."""
    duties = _duty_refs(columns)
    lengths = committee_lengths_from_duties(duties)
    needing = slots_needing_committees(
        k, duties, window, lengths, slots_per_epoch=spe, max_committees_per_slot=mcps
    )
    return duties, lengths, needing


def _duty_refs(duties: AttesterDutyColumns) -> list[AttesterDutyRef]:
    """``duty_refs`` of an answer read as columns (no model per duty)."""
    # The NewTypes (index, slot, committee) are ints: nothing to convert, per row.
    make = cast("Callable[[int, int, int, int, int], AttesterDutyRef]", AttesterDutyRef)
    return list(
        map(
            make,
            duties.validator_index,
            duties.slot,
            duties.committee_index,
            duties.committee_length,
            duties.validator_committee_index,
        )
    )
