"""The monitor service: the I/O edge that feeds the pure trackers and sends their events out.

The supervisor calls it at these points:

* ``restore()`` once at start-up: the trackers, the counters and the last processed epoch from
  the database (the daemon resumes after that epoch);
* ``start(head_epoch)`` once the head is known: the doppelganger check of the start-up epochs;
* ``on_stream_event`` for each beacon event: head events carry the duty dependent roots (a change
  drops the cached duties of that epoch, so they are reloaded), a ``chain_reorg`` evicts the
  cached blocks it replaced and re-judges at once the proposals it may have orphaned,
  slashing/exit/BLS-change topics go to ``SlashingWatch`` (evidence before inclusion);
* ``on_finality`` with each ``finalized_checkpoint`` event and the head it came with:
  ``FinalityWatch`` (delay, inactivity leak) and ``SlashingWatch.on_finalized``;
* ``on_epoch_closed(c, head, validators)`` once per closed epoch, in order: the canonical blocks
  of ``[START(c−1), LAST(c)]`` (cached by slot; new ones are scanned for slashings, exits and BLS
  changes), the validator records → ``StatusTracker`` and the ``slashed`` flag, the op pools,
  proposals of ``c`` (``headers?slot=`` tells orphaned from missed; after any earlier epoch whose
  judgement failed, retried up to ``PROPOSAL_ATTEMPTS`` closes), attestations of ``c−1``
  (after any earlier epoch whose evaluation failed: retried up to ``ATTESTATION_ATTEMPTS`` times,
  in order; an epoch given up breaks the streaks), the sync aggregates of ``c``, finality, a
  re-check of proposals once the finalized checkpoint passed them, the doppelganger check of
  ``c``; then the state, the tallies and the epoch's events are saved in one transaction and
  only then told (published on the event bus: log lines, metrics, the console, the ledger). The
  digest carries the verdicts of retried epochs too, and the epochs still ``pending`` a retry:
  the ledger waits for those rather than settle rows without their verdicts;
* ``judge_owed(head_slot)`` between closes while ``owed``: the proposals of a closed epoch whose
  judgement failed, tried again before the next close (which may never come: a halted chain);
* ``check_doppelgangers()`` on demand (the HTTP API).

The work is done by composed parts, each a small object with its own state over a shared
``MonitorContext`` (client, spec, pool, block cache, tallies, the events not yet stored):
``OperationsPart`` (slashings, exits, credential and status changes), ``ProposalsPart``,
``AttestationsPart``, ``SyncPart``, ``DoppelgangerWatch`` and the pure ``FinalityWatch``. This
service only orders them, holds the lock, and saves and tells.

Each part fails alone: a ``BeaconError`` (or an undecodable answer) is logged once for that part
and epoch and the part is skipped; the rest still runs and the daemon carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import BeaconEvent, ChainReorgEvent, HeadEvent
from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.context import MonitorContext
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.doppelganger_watch import (
    DoppelgangerKeys,
    DoppelgangerWatch,
    EpochCheck,
    result_json,
)
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.events import ChainReorged
from stakepool.monitor.finality import FinalityWatch
from stakepool.monitor.head import HeadView
from stakepool.monitor.keeper import MonitorKeeper
from stakepool.monitor.part_attestations import AttestationsPart
from stakepool.monitor.part_operations import OperationsPart
from stakepool.monitor.part_proposals import ProposalsPart
from stakepool.monitor.part_sync import SyncPart
from stakepool.monitor.saved import MonitorSaved, SavedStateError
from stakepool.monitor.tallies import DutyTallies
from stakepool.monitor.thresholds import MonitorThresholds
from stakepool.store.database import STORE_ERRORS
from stakepool.store.writer import NotWriterError

log = structlog.get_logger("stakepool.monitor")

_UNREADABLE: tuple[type[Exception], ...] = (SavedStateError, *STORE_ERRORS)


class MonitorService:
    def __init__(
        self,
        client: BeaconClient,
        spec: ChainSpec,
        ours: Iterable[int],
        tallies: DutyTallies,
        bus: EventBus,
        *,
        thresholds: MonitorThresholds = MonitorThresholds(),  # noqa: B008 - frozen, shareable
        keeper: MonitorKeeper | None = None,
        doppelganger: DoppelgangerKeys = DoppelgangerKeys(),  # noqa: B008 - frozen
    ) -> None:
        self.ctx = ctx = MonitorContext(client, spec, ours, tallies, thresholds)
        self.bus = bus
        self.keeper = keeper
        self.operations = OperationsPart(ctx)
        self.proposals = ProposalsPart(ctx)
        self.attestations = AttestationsPart(ctx, scan=self.operations.scan)
        self.sync = SyncPart(ctx)
        self.finality = FinalityWatch(thresholds, spec.min_epochs_to_inactivity_penalty)
        self.doppelganger = DoppelgangerWatch(client, doppelganger, ctx.ours)
        self._lock = asyncio.Lock()
        """Held while an epoch is processed (and while committing): one commit at a time, and a
        stream event's commit waits for the epoch's (which then carries its events)."""
        self._head_epoch = Epoch(0)
        self._processed: Epoch | None = None

    def set_pool(self, ours: Iterable[int], *, from_epoch: int | None = None) -> None:
        """The pool changed at an epoch boundary (a key imported into or deleted from a validator
        client): call between two epochs. The parts read ``ctx.ours`` at each epoch; cached duties
        are narrowed to the new set, never dropped (a node serves an epoch's duties only while it
        is recent: asking again could cost every member's verdict of the epochs being judged),
        and the added members' attester duties of the cached epochs from ``from_epoch`` on (all
        when None) are asked for on their own; the slashing watch keeps what it saw."""
        ctx = self.ctx
        before = set(ctx.ours)
        ctx.ours = tuple(sorted({ValidatorIndex(i) for i in ours}))
        self.operations.slashing.set_pool(ctx.ours)
        self.attestations.repool(frozenset(ctx.ours), frozenset(ctx.ours) - before, from_epoch)
        self.sync.seats.clear()  # read again per period: nodes serve the current and next one
        for v in ctx.ours:  # the tallies were rebuilt for the new pool: streaks go on
            ctx.tallies.set_missed_attestation_streak(v, self.attestations.streaks.streak(v))

    # --- persistence ---------------------------------------------------------------------------

    def saved(self) -> MonitorSaved:
        return MonitorSaved(
            epoch=self._processed,
            streaks=self.attestations.streaks.state,
            proposals=self.proposals.tracker.state,
            status=self.operations.status.state,
            slashing=self.operations.slashing.state,
            finality=self.finality.state,
            doppelgangers=self.doppelganger.check.alerted,
            finalized_checked=self.proposals.finalized,
            attestations_through=self.attestations.through,
            sync_through=self.sync.through,
            attestation_retries=dict(self.attestations.retries),
            proposal_retries=dict(self.proposals.retries),
        )

    async def restore(self) -> Epoch | None:
        """Parts and tallies as last saved; the last processed epoch (None: start afresh)."""
        if self.keeper is None:
            return None
        try:
            loaded = await self.keeper.load()
        except _UNREADABLE as exc:
            log.error("monitor_state_unreadable", error=str(exc), action="starting afresh")
            return None
        if loaded is None:
            return None
        s, counters = loaded
        ctx = self.ctx
        self.operations.restore(s)
        self.proposals.restore(s)
        self.sync.restore(s)
        self.finality = FinalityWatch(
            ctx.thresholds, ctx.spec.min_epochs_to_inactivity_penalty, s.finality
        )
        self.doppelganger = DoppelgangerWatch(
            ctx.client, self.doppelganger.keys, ctx.ours, s.doppelgangers
        )
        self._processed = s.epoch
        ctx.tallies.restore(counters)
        self.attestations.restore(s)  # after the tallies: it sets their streaks
        ctx.tallies.set_doppelgangers_detected(len(self.doppelganger.detected()))
        log.info("monitor_state_restored", epoch=s.epoch)
        return s.epoch

    async def _commit(self, digest: EpochDuties | None = None, *, tell_digest: bool = True) -> None:
        """Save the state, the tallies and the unsaved events in one transaction, then tell the
        events (and the epoch's digest, unless ``tell_digest`` is False: late verdicts only). A
        database failure is logged and the events are told anyway (an alert must not wait for
        the disk); the next commit saves the state again. A stop (cancellation) during the write
        lets the transaction finish and its events be told before it takes effect: what is
        stored was told."""
        events, self.ctx.unsaved = self.ctx.unsaved, []
        if self.keeper is not None:
            save = asyncio.ensure_future(
                self.keeper.save(self.saved(), self.ctx.tallies.snapshot(), events, digest)
            )
            try:
                await asyncio.shield(save)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await save
                self._tell(events, digest if tell_digest else None)
                raise
            except NotWriterError:
                pass  # a standby monitors and alerts; the writer keeps the state
            except STORE_ERRORS as exc:
                # The events are told below all the same; the keeper holds them for the outbox.
                log.error(
                    "monitor_state_not_saved", error=str(exc), events_held=len(self.keeper.held)
                )
            else:
                if save.result():
                    log.warning("outbox_full", dropped=save.result())
        self._tell(events, digest if tell_digest else None)

    def _tell(self, events: list[MonitorEvent], digest: EpochDuties | None) -> None:
        for event in events:
            self.bus.publish(event)
        if digest is not None:
            self.bus.publish(digest)

    async def _commit_if_idle(self) -> None:
        if self.ctx.unsaved and not self._lock.locked():
            async with self._lock:
                await self._commit()

    # --- push inputs ---------------------------------------------------------------------------

    async def on_stream_event(self, event: BeaconEvent) -> None:
        data = event.data
        if isinstance(data, HeadEvent):
            self._on_head(data)
        elif isinstance(data, ChainReorgEvent):
            # Blocks from the common ancestor on are refetched (slashings in them are idempotent).
            self.ctx.blocks.evict_from(data.slot - data.depth)  # one slot more than needed: cheap
            self.ctx.emit([ChainReorged.of(data)])
            await self.proposals.after_reorg(data)
        else:
            self.operations.on_stream(data, self._head_epoch)
        await self._commit_if_idle()

    def _on_head(self, head: HeadEvent) -> None:
        epoch = Epoch(head.slot // self.ctx.spe)
        self._head_epoch = max(self._head_epoch, epoch)
        # Attester duties of epoch e depend on the block at START(e−1)−1 (the head's "previous"
        # dependent root while the head is in e), proposer duties of e on START(e)−1 ("current").
        self.attestations.on_dependent_root(epoch, head.previous_duty_dependent_root)
        self.attestations.on_dependent_root(Epoch(epoch + 1), head.current_duty_dependent_root)
        self.proposals.on_dependent_root(epoch, head.current_duty_dependent_root)

    async def on_finality(self, current_epoch: int, finalized_epoch: int) -> None:
        """Each head/finality update from the stream: finality delay and leak."""
        self._finality(current_epoch, finalized_epoch)
        await self._commit_if_idle()

    def _finality(self, current_epoch: int, finalized_epoch: int) -> None:
        # Called with a consistent pair only (a finalized_checkpoint event and the head it came
        # with, or a closed epoch's checkpoints): a head event alone races the finality news and
        # would see a healthy chain as delayed for a moment.
        self.ctx.emit(self.finality.observe(current_epoch, finalized_epoch))
        self.operations.on_finalized(finalized_epoch)

    # --- doppelgangers -------------------------------------------------------------------------

    async def start(self, head_epoch: int) -> None:
        """At start-up: open the validator client's wait window and check the epochs so far."""
        self._head_epoch = max(self._head_epoch, Epoch(head_epoch))
        self.doppelganger.start(head_epoch)
        if self.doppelganger.enabled:
            async with self._lock:
                for epoch in sorted({max(head_epoch - 1, 0), head_epoch}):
                    await self._check_doppelgangers(epoch, [])
                await self._commit()

    async def _check_doppelgangers(self, epoch: int, failed: list[str]) -> EpochCheck | None:
        async def run() -> EpochCheck:
            check, events = await self.doppelganger.check_epoch(epoch)
            self.ctx.emit(events)
            self.ctx.tallies.set_doppelgangers_detected(len(self.doppelganger.detected()))
            return check

        return await self.ctx.part("doppelganger", epoch, failed, run)

    async def check_doppelgangers(self) -> dict[str, object]:
        """On demand: the head's previous and current epochs; the result as JSON-ready data."""
        head = self._head_epoch
        failed: list[str] = []
        checks: list[EpochCheck] = []
        async with self._lock:
            for epoch in sorted({max(head - 1, 0), head}):
                check = await self._check_doppelgangers(epoch, failed)
                if check is not None:
                    checks.append(check)
            await self._commit()
        body = result_json(checks, self.doppelganger.detected())
        if failed:
            body["error"] = "the beacon node did not answer the liveness request"
        return body

    # --- verdicts owed between closes -----------------------------------------------------------

    @property
    def owed(self) -> bool:
        """Some closed epoch's proposals could not be judged yet (a retry is due)."""
        return bool(self.proposals.retries)

    async def judge_owed(
        self, head_slot: int, *, give_way: Callable[[], bool] = lambda: False
    ) -> int:
        """Between closes: the owed proposal judgements tried once more (one request each, none
        once ``give_way()`` says a close is waiting); their events and verdicts saved in one
        transaction as a close's are (the ledger's duty outcomes get the verdicts, the faces the
        events); the number of epochs judged now."""
        async with self._lock:
            if not self.proposals.retries or self._processed is None:
                return 0
            judged = await self.proposals.owed(head_slot, give_way)
            if judged or self.ctx.unsaved:
                # A digest of late verdicts only: it names the last closed epoch but carries
                # nothing of it (its proposals were told at its close), so it is written for the
                # ledger and not shown again.
                late = EpochDuties(
                    self._processed,
                    proposals_judged=False,
                    earlier_proposals=tuple((k, tuple(v)) for k, v in judged),
                    pending=tuple(sorted({*self.attestations.retries, *self.proposals.retries})),
                )
                await self._commit(late if judged else None, tell_digest=False)
        if judged:
            log.info("proposals_judged_late", epochs=[int(k) for k, _ in judged])
        return len(judged)

    # --- the epoch -----------------------------------------------------------------------------

    async def on_epoch_closed(
        self,
        epoch: Epoch,
        head: HeadView,
        validators: ValidatorColumns | None = None,
    ) -> EpochDuties:
        """``head``: the view the epoch's report was made with (its finality goes with its epoch);
        ``validators``: the pool's records at ``LAST(epoch)`` (None or empty when they failed)."""
        records = ValidatorColumns.empty() if validators is None else validators
        async with self._lock:
            digest = await self._epoch(epoch, head, records)
            self._processed = epoch
            await self._commit(digest)
        await self._commit_if_idle()  # stream events that came during the commit itself
        return digest

    async def _epoch(self, c: Epoch, head: HeadView, validators: ValidatorColumns) -> EpochDuties:
        ctx = self.ctx
        head_slot, finalized = head.slot, head.finalized_epoch
        self._head_epoch = max(self._head_epoch, head.epoch)
        failed: list[str] = []
        first = ctx.start(c - 1) if c > 0 else 0

        async def blocks() -> bool:
            for _ in range(3):  # again if a reorg evicted slots while we were loading
                await ctx.blocks.load(first, ctx.last(c), self.operations.scan)
                if ctx.blocks.has(first, ctx.last(c)):
                    break
            return True

        have_blocks = await ctx.part("blocks", c, failed, blocks, idempotent=True) is not None
        ctx.blocks.prune(self.attestations.oldest_kept(first))
        # After the block scan: a slashing included this epoch is told as seen in its block, and
        # the ``slashed`` flag, read from the same epoch's state, then adds nothing.
        await self.operations.on_validators(c, validators)
        await ctx.part("op_pools", c, failed, lambda: self.operations.poll_pools(c))
        judged = dict(await self.proposals.epochs(c, head_slot, failed))
        proposals = judged.pop(c, None)
        attestations, earlier = await self.attestations.epochs(c, have_blocks, failed)
        sync = await ctx.part("sync", c, failed, lambda: self.sync.run(c)) if have_blocks else None
        self._finality(head.epoch, finalized)
        await self.proposals.after_finality(c, finalized, head_slot, failed)
        if self.doppelganger.enabled:
            await self._check_doppelgangers(c, failed)
        # Epoch c's duties of members added at its boundary, while the node still serves them
        # (cached already otherwise: no request).
        await ctx.part("prefetch_duties", c, failed, lambda: self.attestations.duties(c))
        await ctx.part("prefetch_duties", c + 1, failed, lambda: self.attestations.duties(c + 1))
        # Epoch c's source checkpoint while the node still has FIRST(c): it is judged at the next
        # close, or later when an older epoch's retry holds it back, when it may be pruned.
        await ctx.part("prefetch_checkpoints", c, failed, lambda: self.attestations.justified_at(c))
        # Now, while c + 1 is the current epoch: some nodes serve proposer duties for it only.
        await ctx.part(
            "prefetch_proposer_duties", c + 1, failed, lambda: self.proposals.duties(Epoch(c + 1))
        )
        return EpochDuties(
            c,
            attestations,
            tuple(proposals or ()),
            sync,
            tuple(dict.fromkeys(failed)),  # a part failed for a retried epoch and this one: once
            earlier_attestations=tuple(earlier),
            earlier_proposals=tuple((k, tuple(v)) for k, v in sorted(judged.items())),
            proposals_judged=proposals is not None,
            pending=tuple(sorted({*self.attestations.retries, *self.proposals.retries})),
        )
