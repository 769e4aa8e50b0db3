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
  proposals of ``c`` (``headers?slot=`` tells orphaned from missed), attestations of ``c−1``
  (after any earlier epoch whose evaluation failed: retried up to ``ATTESTATION_ATTEMPTS`` times,
  in order; an epoch given up breaks the streaks), the sync aggregates of ``c``, finality, a
  re-check of proposals once the finalized checkpoint passed them, the doppelganger check of
  ``c``; then the state, the counters and the epoch's events are saved in one transaction and
  only then told (log, observers);
* ``check_doppelgangers()`` on demand (the HTTP API).

Each part fails alone: a ``BeaconError`` (or an undecodable answer) is logged once for that part
and epoch and the part is skipped; the rest still runs and the daemon carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterable, Sequence

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import BeaconEvent, ChainReorgEvent, HeadEvent
from stakepool.beacon.models.operations import (
    AttesterSlashing,
    ProposerSlashing,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
)
from stakepool.beacon.models.state import ValidatorInfo
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch
from stakepool.monitor.digest import AttestationDigest, EpochDuties
from stakepool.monitor.doppelganger_watch import (
    DoppelgangerKeys,
    DoppelgangerWatch,
    EpochCheck,
    result_json,
)
from stakepool.monitor.eventbase import MonitorEvent, OperationSource, SlashingSource
from stakepool.monitor.events import ChainReorged
from stakepool.monitor.finality import FinalityWatch
from stakepool.monitor.head import HeadView
from stakepool.monitor.keeper import MonitorKeeper
from stakepool.monitor.parts import PART_ERRORS, MonitorParts, log
from stakepool.monitor.proposals import ProposalTracker
from stakepool.monitor.saved import MonitorSaved, SavedStateError
from stakepool.monitor.slashing import SlashingWatch
from stakepool.monitor.status import StatusTracker
from stakepool.monitor.streaks import MissedStreaks
from stakepool.monitor.thresholds import MonitorThresholds
from stakepool.publish.metrics import Metrics
from stakepool.report import Observer
from stakepool.store.database import STORE_ERRORS

ATTESTATION_ATTEMPTS = 3
"""An epoch whose attestations cannot be evaluated is tried at this many epoch closes, then
given up (the node is still failing, or the blocks are gone): bounded work, bounded memory."""


_UNREADABLE: tuple[type[Exception], ...] = (SavedStateError, *STORE_ERRORS)


class MonitorService(MonitorParts):
    def __init__(
        self,
        client: BeaconClient,
        spec: ChainSpec,
        ours: Iterable[int],
        metrics: Metrics,
        observers: Sequence[Observer],
        *,
        thresholds: MonitorThresholds = MonitorThresholds(),  # noqa: B008 - frozen, shareable
        keeper: MonitorKeeper | None = None,
        doppelganger: DoppelgangerKeys = DoppelgangerKeys(),  # noqa: B008 - frozen
    ) -> None:
        super().__init__(client, spec, ours, metrics, observers, thresholds=thresholds)
        self.keeper = keeper
        self.doppelganger = DoppelgangerWatch(client, doppelganger, self.ours)
        self._lock = asyncio.Lock()
        """Held while an epoch is processed (and while committing): one commit at a time, and a
        stream event's commit waits for the epoch's (which then carries its events)."""
        self._head_epoch = Epoch(0)
        self._processed: Epoch | None = None
        self._retries: dict[Epoch, int] = {}

    # --- persistence ---------------------------------------------------------------------------

    def saved(self) -> MonitorSaved:
        return MonitorSaved(
            epoch=self._processed,
            streaks=self.streaks.state,
            proposals=self.proposals.state,
            status=self.status.state,
            slashing=self.slashing.state,
            finality=self.finality.state,
            doppelgangers=self.doppelganger.check.alerted,
            finalized_checked=self._finalized,
            attestations_through=self._attestations_through,
            sync_through=self._sync_through,
            attestation_retries=dict(self._retries),
        )

    async def restore(self) -> Epoch | None:
        """Trackers and counters as last saved; the last processed epoch (None: start afresh)."""
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
        t = self.thresholds
        self.streaks = MissedStreaks(t.missed_attestation_streak, s.streaks)
        self.proposals = ProposalTracker(self.spe, s.proposals)
        self.status = StatusTracker(s.status)
        self.slashing = SlashingWatch(self.ours, slots_per_epoch=self.spe, state=s.slashing)
        self.finality = FinalityWatch(t, self.spec.min_epochs_to_inactivity_penalty, s.finality)
        self.doppelganger = DoppelgangerWatch(
            self.client, self.doppelganger.keys, self.ours, s.doppelgangers
        )
        self._processed, self._finalized = s.epoch, s.finalized_checked
        self._attestations_through, self._sync_through = s.attestations_through, s.sync_through
        self._retries = dict(s.attestation_retries)
        self.metrics.duties.restore(counters)
        for v in self.ours:
            self.metrics.duties.set_missed_attestation_streak(v, self.streaks.streak(v))
        self.metrics.set_doppelgangers(len(self.doppelganger.detected()))
        log.info("monitor_state_restored", epoch=s.epoch)
        return s.epoch

    async def _commit(self, digest: EpochDuties | None = None) -> None:
        """Save the state, the counters and the unsaved events in one transaction, then tell the
        events (and the epoch's digest). A database failure is logged and the events are told
        anyway (an alert must not wait for the disk); the next commit saves the state again.
        A stop (cancellation) during the write lets the transaction finish and its events be
        told before it takes effect: what is stored was told."""
        events, self._unsaved = self._unsaved, []
        if self.keeper is not None:
            save = asyncio.ensure_future(
                self.keeper.save(self.saved(), self.metrics.duties.snapshot(), events, digest)
            )
            try:
                await asyncio.shield(save)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await save
                self._tell(events, digest)
                raise
            except STORE_ERRORS as exc:
                log.error("monitor_state_not_saved", error=str(exc))
            else:
                if save.result():
                    log.warning("outbox_full", dropped=save.result())
        self._tell(events, digest)

    def _tell(self, events: list[MonitorEvent], digest: EpochDuties | None) -> None:
        self.sink.tell(events)
        if digest is not None:
            for obs in self.observers:
                obs.duties(digest)

    async def _commit_if_idle(self) -> None:
        if self._unsaved and not self._lock.locked():
            async with self._lock:
                await self._commit()

    # --- push inputs ---------------------------------------------------------------------------

    async def on_stream_event(self, event: BeaconEvent) -> None:
        data = event.data
        epoch = self._head_epoch
        if isinstance(data, HeadEvent):
            self._on_head(data)
        elif isinstance(data, ChainReorgEvent):
            # Blocks from the common ancestor on are refetched (slashings in them are idempotent).
            self.blocks.evict_from(data.slot - data.depth)  # one slot more than needed: cheap
            self._emit([_reorg_event(data)])
            await self._after_reorg(data)
        elif isinstance(data, AttesterSlashing):
            self._emit(self.slashing.on_attester_slashing(data, SlashingSource.SSE, epoch))
        elif isinstance(data, ProposerSlashing):
            self._emit(self.slashing.on_proposer_slashing(data, SlashingSource.SSE, epoch))
        elif isinstance(data, SignedVoluntaryExit):
            self._emit(self.slashing.on_voluntary_exit(data, OperationSource.SSE))
        elif isinstance(data, SignedBLSToExecutionChange):
            self._emit(self.slashing.on_bls_change(data, OperationSource.SSE, epoch))
        await self._commit_if_idle()

    async def _after_reorg(self, reorg: ChainReorgEvent) -> None:
        """Our proposals from the common ancestor on are judged again now, not at the next epoch:
        a block of ours that the reorg dropped is told ``orphaned`` at once."""
        try:
            n = await self._rejudge_from(reorg.slot - reorg.depth, reorg.slot)
        except PART_ERRORS as exc:  # the epoch's own judgement and finality re-check remain
            log.warning(
                "monitor_part_failed", part="reorg_rejudge", slot=reorg.slot, error=str(exc)
            )
            return
        if n:
            log.info("proposals_rejudged_after_reorg", slot=reorg.slot, depth=reorg.depth, slots=n)

    def _on_head(self, head: HeadEvent) -> None:
        epoch = Epoch(head.slot // self.spe)
        self._head_epoch = max(self._head_epoch, epoch)
        # Attester duties of epoch e depend on the block at START(e−1)−1 (the head's "previous"
        # dependent root while the head is in e), proposer duties of e on START(e)−1 ("current").
        checks = (
            (self._attester, epoch, head.previous_duty_dependent_root),
            (self._attester, Epoch(epoch + 1), head.current_duty_dependent_root),
            (self._proposer, epoch, head.current_duty_dependent_root),
        )
        for cache, e, root in checks:
            cached = cache.get(e)
            if root is not None and cached is not None and cached[0] != root:
                log.info("duties_dependent_root_changed", epoch=e, old=cached[0], new=root)
                del cache[e]

    async def on_finality(self, current_epoch: int, finalized_epoch: int) -> None:
        """Each head/finality update from the stream: finality delay and leak."""
        self._finality(current_epoch, finalized_epoch)
        await self._commit_if_idle()

    def _finality(self, current_epoch: int, finalized_epoch: int) -> None:
        # Called with a consistent pair only (a finalized_checkpoint event and the head it came
        # with, or a closed epoch's checkpoints): a head event alone races the finality news and
        # would see a healthy chain as delayed for a moment.
        self._emit(self.finality.observe(current_epoch, finalized_epoch))
        self._emit(self.slashing.on_finalized(finalized_epoch))

    def on_validators(self, epoch: int, infos: Sequence[ValidatorInfo]) -> None:
        events = self.status.observe(epoch, infos)
        for info in infos:
            events.extend(self.slashing.on_validator(info, epoch))
        self._emit(events)

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
            self._emit(events)
            self.metrics.set_doppelgangers(len(self.doppelganger.detected()))
            return check

        return await self._part("doppelganger", epoch, failed, run)

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

    # --- the epoch -----------------------------------------------------------------------------

    async def on_epoch_closed(
        self,
        epoch: Epoch,
        head: HeadView,
        validators: Sequence[ValidatorInfo] = (),
    ) -> EpochDuties:
        """``head``: the view the epoch's report was made with (its finality goes with its epoch);
        ``validators``: the pool's records at ``LAST(epoch)`` (empty when they failed)."""
        async with self._lock:
            digest = await self._epoch(epoch, head, validators)
            self._processed = epoch
            await self._commit(digest)
        await self._commit_if_idle()  # stream events that came during the commit itself
        return digest

    async def _epoch(
        self, c: Epoch, head: HeadView, validators: Sequence[ValidatorInfo]
    ) -> EpochDuties:
        head_slot, finalized = head.slot, head.finalized_epoch
        self._head_epoch = max(self._head_epoch, head.epoch)
        failed: list[str] = []
        first = self._start(c - 1) if c > 0 else 0

        async def blocks() -> bool:
            for _ in range(3):  # again if a reorg evicted slots while we were loading
                await self.blocks.load(first, self._last(c), self._scan)
                if self.blocks.has(first, self._last(c)):
                    break
            return True

        have_blocks = await self._part("blocks", c, failed, blocks) is not None
        keep_from = min([first, *(self._start(k) for k in self._retries)])
        self.blocks.prune(keep_from)
        # After the block scan: a slashing included this epoch is told as seen in its block, and
        # the ``slashed`` flag, read from the same epoch's state, then adds nothing.
        self.on_validators(c, validators)
        await self._part("op_pools", c, failed, lambda: self._poll_pools(c))
        proposals = await self._part(
            "proposals", c, failed, lambda: self._judge_proposals(c, head_slot)
        )
        attestations = await self._attestation_epochs(c, have_blocks, failed)
        sync = await self._part("sync", c, failed, lambda: self._sync(c)) if have_blocks else None
        self._finality(head.epoch, finalized)
        if self._finalized is None or finalized > self._finalized:
            checked = await self._part(
                "finality_recheck", c, failed, lambda: self._recheck_final(finalized, head_slot)
            )
            if checked:  # else the next epoch tries again
                self._finalized = finalized
        if self.doppelganger.enabled:
            await self._check_doppelgangers(c, failed)
        await self._part("prefetch_duties", c + 1, failed, lambda: self._attester_duties(c + 1))
        # Epoch c's source checkpoint while the node still has FIRST(c): it is judged at the next
        # close, or later when an older epoch's retry holds it back, when it may be pruned.
        await self._part("prefetch_checkpoints", c, failed, lambda: self._justified_at(c))
        # Now, while c + 1 is the current epoch: some nodes serve proposer duties for it only.
        await self._part(
            "prefetch_proposer_duties", c + 1, failed, lambda: self._proposer_duties(Epoch(c + 1))
        )
        return EpochDuties(c, attestations, tuple(proposals or ()), sync, tuple(failed))

    async def _attestation_epochs(
        self, c: Epoch, have_blocks: bool, failed: list[str]
    ) -> AttestationDigest | None:
        """Epochs whose evaluation failed before, then ``c − 1``, oldest first (streaks count in
        order). A failed epoch does not hold the later ones back: they are tried too, and once a
        later epoch is evaluated the earlier failures can no longer count in order and are given
        up (a gap: the streaks break). While everything fails (the node is down) each failed
        epoch is kept for the next close, up to ``ATTESTATION_ATTEMPTS``. Why not wait: a node
        that prunes (or serves duties only for recent epochs) would turn one old failure into a
        cascade of stale, failing evaluations."""
        todo = sorted(self._retries)
        if c > 0 and Epoch(c - 1) not in self._retries:
            todo.append(Epoch(c - 1))
        latest: AttestationDigest | None = None
        behind: list[Epoch] = []
        for k in todo:
            done = None
            if have_blocks:
                done = await self._part(
                    "attestations", k, failed, functools.partial(self._attestations, k)
                )
            counted = self._attestations_through is not None and k <= self._attestations_through
            if done is not None or counted:
                self._retries.pop(k, None)
                for lost in behind:
                    attempts = self._retries.pop(lost, 0)
                    log.warning(
                        "attestations_given_up", epoch=lost, attempts=attempts, later=int(k)
                    )
                behind.clear()
                latest = done if k == c - 1 else latest
                continue
            attempts = self._retries.get(k, 0) + 1
            if attempts >= ATTESTATION_ATTEMPTS:
                log.warning("attestations_given_up", epoch=k, attempts=attempts)
                self._retries.pop(k, None)
                continue  # the next evaluated epoch breaks the streaks (a gap)
            self._retries[k] = attempts
            behind.append(k)
        return latest


def _reorg_event(reorg: ChainReorgEvent) -> ChainReorged:
    """The chain-level ``reorg`` event: its id depends only on the node's report (same reorg from
    another node or after a restart → same id)."""
    return ChainReorged(
        epoch=reorg.epoch,
        slot=reorg.slot,
        depth=int(reorg.depth),
        old_head_block=str(reorg.old_head_block),
        new_head_block=str(reorg.new_head_block),
    )
