"""The parts of one epoch's monitoring, each a request or two to the node and a pure tracker.

``MonitorParts`` holds the trackers and the per-part I/O; ``monitor.service.MonitorService``
builds on it with the order of the parts, the event stream, persistence and doppelganger checks.

Every tracker mutation happens synchronously with the counting of its events (``_emit``) and of
its counters (``_record``), and each part that counts without events (attestations, sync) is
guarded by the last epoch it counted: so the state, the counters and the buffered events are
consistent at any moment a commit may happen, and a part redone after a restart counts nothing
twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError, NotFound
from stakepool.beacon.models.blocks import SignedBeaconBlock
from stakepool.beacon.models.state import Checkpoint
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
from stakepool.monitor.digest import AttestationDigest, SyncDigest, attestation_digest
from stakepool.monitor.eventbase import (
    MonitorEvent,
    OperationSource,
    ProposalVerdict,
    SlashingSource,
)
from stakepool.monitor.finality import FinalityWatch
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
PART_ERRORS = (BeaconError, ValueError)


class MonitorParts:
    def __init__(
        self,
        client: BeaconClient,
        spec: ChainSpec,
        ours: Iterable[int],
        metrics: Metrics,
        observers: Sequence[Observer],
        *,
        thresholds: MonitorThresholds,
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
        self._justified: dict[Epoch, Checkpoint] = {}
        """Epoch → the justified checkpoint at its first slot, read while the epoch was recent."""
        self._seats: dict[int, Seats] = {}
        self._unsaved: list[MonitorEvent] = []
        """Counted, not yet stored nor told (``MonitorService._commit`` does both)."""
        self._finalized: Epoch | None = None
        """The finalized epoch whose proposals were re-checked."""
        self._attestations_through: Epoch | None = None
        """The last epoch whose attestations were evaluated and counted."""
        self._sync_through: Epoch | None = None
        """The last epoch whose sync signatures were counted."""

    # --- helpers -------------------------------------------------------------------------------

    def _start(self, epoch: int) -> int:
        return epoch * self.spe

    def _last(self, epoch: int) -> int:
        return (epoch + 1) * self.spe - 1

    def _emit(self, events: Iterable[MonitorEvent]) -> None:
        events = list(events)
        if events:
            self.sink.count(events)
            self._unsaved.extend(events)

    async def _part(
        self, name: str, epoch: int, failed: list[str], run: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run one part of an epoch's work; a failure is logged once and the part skipped."""
        try:
            return await run()
        except PART_ERRORS as exc:
            log.warning("monitor_part_failed", part=name, epoch=epoch, error=str(exc))
            failed.append(name)
            return None

    # --- blocks and operations -----------------------------------------------------------------

    def _scan(self, block: SignedBeaconBlock) -> None:
        """Slashings, exits and BLS changes in a newly fetched canonical block."""
        self._emit(self.slashing.on_block(block))

    async def _poll_pools(self, epoch: Epoch) -> None:
        # Evidence that SSE missed (a node refusing the topic, a reconnect gap) is still found.
        attester = await self.client.op_pool.attester_slashings()
        for a in attester.data:
            self._emit(self.slashing.on_attester_slashing(a, SlashingSource.POOL, epoch))
        proposer = await self.client.op_pool.proposer_slashings()
        for p in proposer.data:
            self._emit(self.slashing.on_proposer_slashing(p, SlashingSource.POOL, epoch))
        exits = await self.client.op_pool.voluntary_exits()
        for x in exits.data:
            self._emit(self.slashing.on_voluntary_exit(x, OperationSource.POOL))

    # --- proposals -----------------------------------------------------------------------------

    async def _proposer_duties(self, epoch: Epoch) -> list[ProposerDutyRef]:
        cached = self._proposer.get(epoch)
        if cached is None:
            answer = await self.client.duties.proposer(epoch)
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
            headers = await self.client.blocks.headers_at_slot(duty.slot)
            self._emit(self.proposals.update(duty, headers.data, head_slot))
            verdict = self.proposals.verdict(duty.slot)
            if verdict is not None:
                out.append((duty.slot, duty.validator_index, verdict))
        self._proposer = {e: d for e, d in self._proposer.items() if e >= epoch - 2}
        return out

    async def _rejudge_from(self, first_slot: int, head_slot: int) -> int:
        """Verdicts not yet final of slots from ``first_slot`` on, judged again (after a reorg);
        the number of slots re-judged."""
        slots = [
            (slot, tracked)
            for slot, tracked in sorted(self.proposals.state.items())
            if not tracked.final and slot >= first_slot
        ]
        for slot, tracked in slots:
            duty = ProposerDutyRef(tracked.outcome.validator_index, slot)
            headers = await self.client.blocks.headers_at_slot(slot)
            self._emit(self.proposals.update(duty, headers.data, head_slot))
        return len(slots)

    async def _recheck_final(self, finalized: Epoch, head_slot: int) -> bool:
        """Verdicts of slots before the finalized checkpoint are judged once more and frozen."""
        boundary = self._start(finalized)
        for slot, tracked in sorted(self.proposals.state.items()):
            if tracked.final or slot >= boundary:
                continue
            duty = ProposerDutyRef(tracked.outcome.validator_index, slot)
            headers = await self.client.blocks.headers_at_slot(slot)
            self._emit(self.proposals.update(duty, headers.data, head_slot, finalized=True))
        self.proposals.prune(boundary - 2 * self.spe)
        return True

    # --- attestations --------------------------------------------------------------------------

    async def _attester_duties(self, epoch: int) -> list[AttesterDutyRef]:
        e = Epoch(epoch)
        cached = self._attester.get(e)
        if cached is None:
            answer = await self.client.duties.attester(e, self.ours)
            cached = self._attester[e] = (answer.dependent_root, duty_refs(answer.data))
        return cached[1]

    async def _justified_at(self, k: Epoch) -> Checkpoint:
        """The source checkpoint of epoch ``k``'s attestations: the justified checkpoint in the
        state at ``FIRST(k)``. Read again when judging (it follows the canonical chain); if the
        node no longer has that state (pruned behind finality: stock Lodestar, when a retried
        epoch held this one back), the value read at ``k``'s own close stands in."""
        try:
            answer = await self.client.state.finality_checkpoints(self._start(k))
        except NotFound:
            kept = self._justified.get(k)
            if kept is None:
                raise
            return kept
        self._justified[k] = answer.data.current_justified
        for old in [e for e in self._justified if e < k - 16]:  # epochs given up long ago
            del self._justified[old]
        return answer.data.current_justified

    async def _attestations(self, k: Epoch) -> AttestationDigest | None:
        """Epoch ``k``'s attester duties against the canonical blocks of its inclusion window;
        None if ``k`` was already counted (a redo after a restart)."""
        if self._attestations_through is not None and k <= self._attestations_through:
            return None
        duties = await self._attester_duties(k)
        first, last = self._start(k), self._last(k + 1)
        await self.blocks.load(first, last, self._scan)  # a retried epoch's window, if pruned
        window = [inclusion_block(b) for b in self.blocks.blocks(first, last)]
        lengths = committee_lengths_from_duties(duties)
        spe, mcps = self.spe, self.spec.max_committees_per_slot
        for slot in slots_needing_committees(
            k, duties, window, lengths, slots_per_epoch=spe, max_committees_per_slot=mcps
        ):
            committees = await self.client.state.committees(slot, slot=slot)
            for key, length in committee_lengths_from_committees(committees.data).items():
                lengths.setdefault(key, length)  # the duties' own lengths win over `committees`
        justified = await self._justified_at(k)
        chain = await self.blocks.chain(first, self._last(k), last)
        outcomes = evaluate_attestations(
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
        if self._attestations_through is not None and k > self._attestations_through + 1:
            log.info("attestation_streaks_reset", after=self._attestations_through, epoch=k)
            self.streaks.gap()
            for v in self.ours:
                self.metrics.duties.set_missed_attestation_streak(v, 0)
        self._attester = {e: d for e, d in self._attester.items() if e > k}
        self._justified = {e: j for e, j in self._justified.items() if e > k}
        streak_events = self.streaks.observe(k, outcomes)  # first: the gauge reads its streaks
        self._record(outcomes)
        self._attestations_through = k
        self._emit(streak_events)
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

    # --- sync committee ------------------------------------------------------------------------

    async def _sync(self, epoch: Epoch) -> SyncDigest | None:
        period = self.spec.sync_period(epoch)
        seats = self._seats.get(period)
        if seats is None:
            answer = await self.client.duties.sync(epoch, self.ours)
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
        low = low_participation_events(summary, self.thresholds.sync_participation_low)
        if self._sync_through is None or epoch > self._sync_through:  # else: a redo, counted
            duties = self.metrics.duties
            duties.set_sync_participation(
                {v: (p.signed, p.total) for v, p in summary.per_validator.items()}
            )
            for v, p in summary.per_validator.items():
                duties.record_sync_signatures(v, signed=p.signed, missed=p.missed)
            self._sync_through = epoch
            self._emit(low)
        return SyncDigest(
            epoch,
            summary.pool.signed,
            summary.pool.total,
            tuple(sorted(summary.per_validator)),
            tuple(e.validator_index for e in low),
        )
