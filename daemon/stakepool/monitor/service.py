"""The monitor service: the I/O edge that feeds the pure trackers and sends their events out.

The supervisor calls it at three points:

* ``on_stream_event`` for each beacon event: head events carry the duty dependent roots (a change
  drops the cached duties of that epoch, so they are reloaded), a ``chain_reorg`` evicts the
  cached blocks it replaced, slashing/exit/BLS-change topics go to ``SlashingWatch`` (evidence
  before inclusion);
* ``on_finality`` with each ``finalized_checkpoint`` event and the head it came with:
  ``FinalityWatch`` (delay, inactivity leak) and ``SlashingWatch.on_finalized``;
* ``on_epoch_closed(c, head, validators)`` once per closed epoch, in order: the canonical blocks
  of ``[START(c−1), LAST(c)]`` (cached by slot; new ones are scanned for slashings, exits and BLS
  changes), the validator records the daemon already fetched for its status gauges (one request
  per epoch serves both) → ``StatusTracker`` and the ``slashed`` flag, the op pools, proposals of
  ``c`` (``headers?slot=`` tells orphaned from missed), attestations of ``c−1`` (their inclusion
  window ended at ``LAST(c)``), the sync aggregates of ``c``, finality, and a re-check of
  proposals once the finalized checkpoint passed them (``finalized=True`` freezes the verdict).

Each part fails alone: a ``BeaconError`` (or an undecodable answer) is logged once for that part
and epoch and the part is skipped; the rest still runs and the daemon carries on. Events go to one
``EventSink``; observers also get an ``EpochDuties`` digest per epoch.

Not yet (next step): persistence of tracker state across restarts (``monitor.persist`` has the
codecs; today a restart re-baselines statuses and restarts streaks and slashing stages), thresholds
from the configuration (defaults for now), doppelganger checks, an epoch whose attestations were
skipped is not retried (the streak treats the next evaluated epoch as consecutive).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.beacon.models import BeaconEvent, ChainReorgEvent, HeadEvent
from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.operations import (
    AttesterSlashing,
    ProposerSlashing,
    SignedBLSToExecutionChange,
    SignedVoluntaryExit,
)
from stakepool.beacon.models.state import ValidatorInfo
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.attestations import AttestationOutcome as Outcome
from stakepool.monitor.attestations import (
    AttesterDutyRef,
    committee_lengths_from_committees,
    committee_lengths_from_duties,
    duty_refs,
    evaluate_attestations,
    inclusion_block,
    slots_needing_committees,
)
from stakepool.monitor.blockcache import BlockCache
from stakepool.monitor.digest import (
    AttestationDigest,
    EpochDuties,
    SyncDigest,
    attestation_digest,
)
from stakepool.monitor.eventbase import (
    MonitorEvent,
    OperationSource,
    ProposalVerdict,
    SlashingSource,
)
from stakepool.monitor.finality import FinalityWatch
from stakepool.monitor.head import HeadView
from stakepool.monitor.proposals import ProposalTracker, ProposerDutyRef, proposer_duty_refs
from stakepool.monitor.sink import EventSink
from stakepool.monitor.slashing import SlashingWatch
from stakepool.monitor.status import StatusTracker
from stakepool.monitor.streaks import MissedStreaks
from stakepool.monitor.sync import (
    Seats,
    SyncEpochTally,
    low_participation_events,
    seats_from_duties,
)
from stakepool.monitor.thresholds import MonitorThresholds
from stakepool.publish.duty_metrics import AttestationFlag
from stakepool.publish.duty_metrics import AttestationOutcome as OutcomeMetric
from stakepool.publish.metrics import Metrics
from stakepool.report import Observer

log = structlog.get_logger("stakepool.monitor")

T = TypeVar("T")
# A node's failure, or an answer the pure trackers cannot use (they raise ValueError subclasses:
# AttestationDecodeError, ChainRootUnknown, BitfieldError, a seat outside the committee).
_PART_ERRORS = (BeaconError, ValueError)


class MonitorService:
    def __init__(
        self,
        client: BeaconClient,
        spec: ChainSpec,
        ours: Iterable[int],
        metrics: Metrics,
        observers: Sequence[Observer],
        *,
        thresholds: MonitorThresholds = MonitorThresholds(),  # noqa: B008 - frozen, shareable
    ) -> None:
        self.client = client
        self.spec = spec
        self.spe = spec.slots_per_epoch
        self.ours = tuple(sorted({ValidatorIndex(i) for i in ours}))
        self.thresholds = thresholds
        self.metrics = metrics
        self.observers = observers
        self.sink = EventSink(metrics.duties, observers)
        self.streaks = MissedStreaks(thresholds.missed_attestation_streak)
        self.proposals = ProposalTracker(self.spe)
        self.status = StatusTracker()
        self.slashing = SlashingWatch(self.ours, slots_per_epoch=self.spe)
        self.finality = FinalityWatch(thresholds, spec.min_epochs_to_inactivity_penalty)
        self.blocks = BlockCache(client)
        self._attester: dict[Epoch, tuple[str | None, list[AttesterDutyRef]]] = {}
        self._proposer: dict[Epoch, tuple[str | None, list[ProposerDutyRef]]] = {}
        self._seats: dict[int, Seats] = {}
        self._head_epoch = Epoch(0)
        self._finalized: Epoch | None = None
        """The finalized epoch whose proposals were re-checked."""

    # --- helpers -------------------------------------------------------------------------------

    def _start(self, epoch: int) -> int:
        return epoch * self.spe

    def _last(self, epoch: int) -> int:
        return (epoch + 1) * self.spe - 1

    async def _part(
        self, name: str, epoch: int, failed: list[str], run: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run one part of an epoch's work; a failure is logged once and the part skipped."""
        try:
            return await run()
        except _PART_ERRORS as exc:
            log.warning("monitor_part_failed", part=name, epoch=epoch, error=str(exc))
            failed.append(name)
            return None

    # --- push inputs ---------------------------------------------------------------------------

    def on_stream_event(self, event: BeaconEvent) -> None:
        data = event.data
        epoch = self._head_epoch
        events: list[MonitorEvent] = []
        if isinstance(data, HeadEvent):
            self._on_head(data)
        elif isinstance(data, ChainReorgEvent):
            # Blocks from the common ancestor on are refetched (slashings in them are idempotent).
            self.blocks.evict_from(data.slot - data.depth)  # one slot more than needed: cheap
        elif isinstance(data, AttesterSlashing):
            events = self.slashing.on_attester_slashing(data, SlashingSource.SSE, epoch)
        elif isinstance(data, ProposerSlashing):
            events = self.slashing.on_proposer_slashing(data, SlashingSource.SSE, epoch)
        elif isinstance(data, SignedVoluntaryExit):
            events = self.slashing.on_voluntary_exit(data, OperationSource.SSE)
        elif isinstance(data, SignedBLSToExecutionChange):
            events = self.slashing.on_bls_change(data, OperationSource.SSE, epoch)
        self.sink.emit(events)

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

    def on_finality(self, current_epoch: int, finalized_epoch: int) -> None:
        """Each head/finality update: finality delay and leak (pure, no I/O)."""
        # Called with a consistent pair only (a finalized_checkpoint event and the head it came
        # with, or a closed epoch's checkpoints): a head event alone races the finality news and
        # would see a healthy chain as delayed for a moment.
        self.sink.emit(self.finality.observe(current_epoch, finalized_epoch))
        self.sink.emit(self.slashing.on_finalized(finalized_epoch))

    def on_validators(self, epoch: int, infos: Sequence[ValidatorInfo]) -> None:
        events = self.status.observe(epoch, infos)
        for info in infos:
            events.extend(self.slashing.on_validator(info, epoch))
        self.sink.emit(events)

    # --- the epoch -----------------------------------------------------------------------------

    async def on_epoch_closed(
        self,
        epoch: Epoch,
        head: HeadView,
        validators: Sequence[ValidatorInfo] = (),
    ) -> EpochDuties:
        """``head``: the view the epoch's report was made with (its finality goes with its epoch);
        ``validators``: the pool's records at ``LAST(epoch)`` (empty when they failed)."""
        c, head_slot, finalized = epoch, head.slot, head.finalized_epoch
        failed: list[str] = []
        first = self._start(c - 1) if c > 0 else 0

        async def blocks() -> bool:
            for _ in range(3):  # again if a reorg evicted slots while we were loading
                await self.blocks.load(first, self._last(c), self._scan)
                if self.blocks.has(first, self._last(c)):
                    break
            return True

        have_blocks = await self._part("blocks", c, failed, blocks) is not None
        self.blocks.prune(first)
        # After the block scan: a slashing included this epoch is told as seen in its block, and
        # the ``slashed`` flag, read from the same epoch's state, then adds nothing.
        self.on_validators(c, validators)
        await self._part("op_pools", c, failed, lambda: self._poll_pools(c))
        proposals = await self._part(
            "proposals", c, failed, lambda: self._judge_proposals(c, head_slot)
        )
        attestations = None
        if c > 0 and have_blocks:
            attestations = await self._part(
                "attestations", c - 1, failed, lambda: self._attestations(Epoch(c - 1))
            )
        sync = await self._part("sync", c, failed, lambda: self._sync(c)) if have_blocks else None
        self.on_finality(head.epoch, finalized)
        if self._finalized is None or finalized > self._finalized:
            checked = await self._part(
                "finality_recheck", c, failed, lambda: self._recheck_final(finalized, head_slot)
            )
            if checked:  # else the next epoch tries again
                self._finalized = finalized
        await self._part("prefetch_duties", c + 1, failed, lambda: self._attester_duties(c + 1))
        # Now, while c + 1 is the current epoch: some nodes serve proposer duties for it only.
        await self._part(
            "prefetch_proposer_duties", c + 1, failed, lambda: self._proposer_duties(Epoch(c + 1))
        )
        digest = EpochDuties(c, attestations, tuple(proposals or ()), sync, tuple(failed))
        for obs in self.observers:
            obs.duties(digest)
        return digest

    def _scan(self, block: SignedBeaconBlock) -> None:
        """Slashings, exits and BLS changes in a newly fetched canonical block."""
        self.sink.emit(self.slashing.on_block(block))

    async def _poll_pools(self, epoch: Epoch) -> None:
        # Evidence that SSE missed (a node refusing the topic, a reconnect gap) is still found.
        attester = await self.client.get_pool_attester_slashings()
        for a in attester.data:
            self.sink.emit(self.slashing.on_attester_slashing(a, SlashingSource.POOL, epoch))
        proposer = await self.client.get_pool_proposer_slashings()
        for p in proposer.data:
            self.sink.emit(self.slashing.on_proposer_slashing(p, SlashingSource.POOL, epoch))
        exits = await self.client.get_pool_voluntary_exits()
        for x in exits.data:
            self.sink.emit(self.slashing.on_voluntary_exit(x, OperationSource.POOL))

    async def _proposer_duties(self, epoch: Epoch) -> list[ProposerDutyRef]:
        cached = self._proposer.get(epoch)
        if cached is None:
            answer = await self.client.get_proposer_duties(epoch)
            refs = proposer_duty_refs(answer.data, self.ours)
            cached = self._proposer[epoch] = (answer.dependent_root, refs)
            for slot in range(self._start(epoch), self._last(epoch) + 1):
                if all(r.slot != slot for r in refs):
                    self.proposals.forget(slot)  # a reload moved the duty away from us
        return cached[1]

    async def _judge_proposals(
        self, epoch: Epoch, head_slot: int
    ) -> list[tuple[Slot, ValidatorIndex, ProposalVerdict]]:
        out: list[tuple[Slot, ValidatorIndex, ProposalVerdict]] = []
        for duty in await self._proposer_duties(epoch):
            if duty.slot == 0:
                continue  # the genesis block is nobody's proposal (its proposer field is 0)
            headers = await self.client.get_headers_at_slot(duty.slot)
            self.sink.emit(self.proposals.update(duty, headers.data, head_slot))
            verdict = self.proposals.verdict(duty.slot)
            if verdict is not None:
                out.append((duty.slot, duty.validator_index, verdict))
        self._proposer = {e: d for e, d in self._proposer.items() if e >= epoch - 2}
        return out

    async def _recheck_final(self, finalized: Epoch, head_slot: int) -> bool:
        """Verdicts of slots before the finalized checkpoint are judged once more and frozen."""
        boundary = self._start(finalized)
        for slot, tracked in sorted(self.proposals.state.items()):
            if tracked.final or slot >= boundary:
                continue
            duty = ProposerDutyRef(tracked.outcome.validator_index, slot)
            headers = await self.client.get_headers_at_slot(slot)
            self.sink.emit(self.proposals.update(duty, headers.data, head_slot, finalized=True))
        self.proposals.prune(boundary - 2 * self.spe)
        return True

    async def _attester_duties(self, epoch: int) -> list[AttesterDutyRef]:
        e = Epoch(epoch)
        cached = self._attester.get(e)
        if cached is None:
            answer = await self.client.get_attester_duties(e, self.ours)
            cached = self._attester[e] = (answer.dependent_root, duty_refs(answer.data))
        return cached[1]

    async def _attestations(self, k: Epoch) -> AttestationDigest:
        """Epoch ``k``'s attester duties against the canonical blocks of its inclusion window."""
        duties = await self._attester_duties(k)
        first, last = self._start(k), self._last(k + 1)
        window = [inclusion_block(b) for b in self.blocks.blocks(first, last)]
        lengths = committee_lengths_from_duties(duties)
        spe, mcps = self.spe, self.spec.max_committees_per_slot
        for slot in slots_needing_committees(
            k, duties, window, lengths, slots_per_epoch=spe, max_committees_per_slot=mcps
        ):
            committees = await self.client.get_committees(slot, slot=slot)
            for key, length in committee_lengths_from_committees(committees.data).items():
                lengths.setdefault(key, length)  # the duties' own lengths win over `committees`
        checkpoints = await self.client.get_finality_checkpoints(first)
        chain = await self.blocks.chain(first, self._last(k), last)
        outcomes = evaluate_attestations(
            k,
            duties,
            window,
            chain=chain,
            justified=checkpoints.data.current_justified,
            committee_lengths=lengths,
            slots_per_epoch=spe,
            max_committees_per_slot=mcps,
        )
        self._attester = {e: d for e, d in self._attester.items() if e > k}
        streak_events = self.streaks.observe(k, outcomes)  # first: the gauge reads its streaks
        self._record(outcomes)
        self.sink.emit(streak_events)
        return attestation_digest(k, outcomes)

    def _record(self, outcomes: Iterable[Outcome]) -> None:
        duties = self.metrics.duties
        for o in outcomes:
            if not o.included:
                duties.record_attestation(o.validator_index, OutcomeMetric.MISSED)
            else:
                flags = [
                    flag
                    for flag, ok in (
                        (AttestationFlag.HEAD, o.timely_head),
                        (AttestationFlag.TARGET, o.timely_target),
                        (AttestationFlag.SOURCE, o.timely_source),
                    )
                    if not ok
                ]
                duties.record_attestation(
                    o.validator_index,
                    OutcomeMetric.INCLUDED,
                    inclusion_delay=o.inclusion_delay,
                    missed_flags=flags,
                )
            # The tracker's streak is the one events are raised from: the gauge must agree.
            duties.set_missed_attestation_streak(
                o.validator_index, self.streaks.streak(o.validator_index)
            )

    async def _sync(self, epoch: Epoch) -> SyncDigest | None:
        period = self.spec.sync_period(epoch)
        seats = self._seats.get(period)
        if seats is None:
            answer = await self.client.get_sync_duties(epoch, self.ours)
            seats = self._seats[period] = seats_from_duties(answer.data)
            self._seats = {p: s for p, s in self._seats.items() if p >= period - 1}
        if not seats:
            return None
        tally = SyncEpochTally(
            epoch, seats, slots_per_epoch=self.spe, committee_size=self.spec.sync_committee_size
        )
        # From slot 1: nobody signs the genesis block's (empty) sync aggregate.
        for block in self.blocks.blocks(max(self._start(epoch), 1), self._last(epoch)):
            tally.add_block(block)
        summary = tally.summary()
        duties = self.metrics.duties
        duties.set_sync_participation(
            {v: (p.signed, p.total) for v, p in summary.per_validator.items()}
        )
        for v, p in summary.per_validator.items():
            duties.record_sync_signatures(v, signed=p.signed, missed=p.missed)
        low = low_participation_events(summary, self.thresholds.sync_participation_low)
        self.sink.emit(low)
        return SyncDigest(
            epoch,
            summary.pool.signed,
            summary.pool.total,
            tuple(sorted(summary.per_validator)),
            tuple(e.validator_index for e in low),
        )
