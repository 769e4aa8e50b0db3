"""Proposal outcomes of the pool's proposer duties (pure).

``judge_proposal(duty, headers, current_slot)`` classifies one duty from the node's answer to
``GET /eth/v1/beacon/headers?slot={duty.slot}`` (every block it knows at the slot, canonical or
not; an empty list when there is none):

* ``pending``: the slot has not passed (``current_slot ≤ duty.slot``);
* ``proposed``: a canonical block at the slot by our validator;
* ``wrong_proposer``: a canonical block by someone else — the duties changed, reload them;
* ``orphaned``: no canonical block, but a non-canonical one by our validator (reorged out);
* ``missed``: no canonical block and none of ours.

``ProposalTracker`` keeps the verdict per slot, turns the first verdict into an event
(``block_proposed`` / ``block_missed`` / ``block_orphaned`` / ``proposer_mismatch``) and re-judges
on later looks (after a ``chain_reorg``, and once at finality): a changed verdict yields
``proposal_changed`` (old → new) plus the new verdict's event, so a consumer counting outcomes can
move the count. Once judged with ``finalized=True`` a slot's verdict is frozen. Same answer again →
no event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stakepool.beacon.models.blocks import HeaderInfo
from stakepool.beacon.models.duties import ProposerDuty
from stakepool.chain.types import Epoch, Root, Slot, ValidatorIndex
from stakepool.monitor.events import (
    BlockMissed,
    BlockOrphaned,
    BlockProposed,
    MonitorEvent,
    ProposalChanged,
    ProposalVerdict,
    ProposerMismatch,
)


@dataclass(frozen=True, slots=True)
class ProposerDutyRef:
    validator_index: ValidatorIndex
    slot: Slot


def proposer_duty_refs(
    duties: Iterable[ProposerDuty], ours: Iterable[int] | None = None
) -> list[ProposerDutyRef]:
    """The API's duties (all 32 proposers of an epoch) narrowed to ``ours`` when given."""
    keep = None if ours is None else set(ours)
    return [
        ProposerDutyRef(d.validator_index, d.slot)
        for d in duties
        if keep is None or d.validator_index in keep
    ]


@dataclass(frozen=True, slots=True)
class ProposalOutcome:
    validator_index: ValidatorIndex
    slot: Slot
    verdict: ProposalVerdict
    root: Root | None = None
    """Our block (canonical when proposed, the orphan when orphaned); None otherwise."""
    actual_proposer: ValidatorIndex | None = None
    """The canonical block's proposer when ``wrong_proposer``."""


def judge_proposal(
    duty: ProposerDutyRef, headers: Iterable[HeaderInfo], current_slot: int
) -> ProposalOutcome:
    if current_slot <= duty.slot:
        return ProposalOutcome(duty.validator_index, duty.slot, ProposalVerdict.PENDING)
    at_slot = [h for h in headers if h.slot == duty.slot]  # a node may pad with other slots
    canonical = next((h for h in at_slot if h.canonical), None)
    if canonical is not None:
        if canonical.proposer_index == duty.validator_index:
            return ProposalOutcome(
                duty.validator_index, duty.slot, ProposalVerdict.PROPOSED, canonical.root
            )
        return ProposalOutcome(
            duty.validator_index,
            duty.slot,
            ProposalVerdict.WRONG_PROPOSER,
            actual_proposer=canonical.proposer_index,
        )
    orphan = next((h for h in at_slot if h.proposer_index == duty.validator_index), None)
    if orphan is not None:
        return ProposalOutcome(
            duty.validator_index, duty.slot, ProposalVerdict.ORPHANED, orphan.root
        )
    return ProposalOutcome(duty.validator_index, duty.slot, ProposalVerdict.MISSED)


def verdict_event(outcome: ProposalOutcome, slots_per_epoch: int) -> MonitorEvent | None:
    """The event that reports a verdict (None for ``pending``)."""
    v, s = outcome.validator_index, outcome.slot
    epoch = Epoch(s // slots_per_epoch)
    match outcome.verdict:
        case ProposalVerdict.PROPOSED:
            assert outcome.root is not None
            return BlockProposed(validator_index=v, epoch=epoch, slot=s, root=outcome.root)
        case ProposalVerdict.ORPHANED:
            assert outcome.root is not None
            return BlockOrphaned(validator_index=v, epoch=epoch, slot=s, root=outcome.root)
        case ProposalVerdict.MISSED:
            return BlockMissed(validator_index=v, epoch=epoch, slot=s)
        case ProposalVerdict.WRONG_PROPOSER:
            assert outcome.actual_proposer is not None
            return ProposerMismatch(
                validator_index=v, epoch=epoch, slot=s, actual_proposer=outcome.actual_proposer
            )
        case ProposalVerdict.PENDING:
            return None


@dataclass(frozen=True, slots=True)
class TrackedProposal:
    outcome: ProposalOutcome
    final: bool


class ProposalTracker:
    """Verdicts by slot, reported once each and revised when a later look disagrees."""

    def __init__(
        self, slots_per_epoch: int, state: Mapping[Slot, TrackedProposal] | None = None
    ) -> None:
        self._spe = slots_per_epoch
        self._by_slot: dict[Slot, TrackedProposal] = dict(state or {})

    @property
    def state(self) -> Mapping[Slot, TrackedProposal]:
        return dict(self._by_slot)

    def verdict(self, slot: int) -> ProposalVerdict | None:
        tracked = self._by_slot.get(Slot(slot))
        return None if tracked is None else tracked.outcome.verdict

    def update(
        self,
        duty: ProposerDutyRef,
        headers: Iterable[HeaderInfo],
        current_slot: int,
        *,
        finalized: bool = False,
    ) -> list[MonitorEvent]:
        """Judge ``duty`` again; ``finalized`` says the slot is final (the verdict freezes)."""
        previous = self._by_slot.get(duty.slot)
        if previous is not None and previous.final:
            return []
        outcome = judge_proposal(duty, headers, current_slot)
        if outcome.verdict is ProposalVerdict.PENDING:
            return []
        self._by_slot[duty.slot] = TrackedProposal(outcome, finalized)
        if previous is not None and previous.outcome == outcome:
            return []
        events: list[MonitorEvent] = []
        if previous is not None and previous.outcome.validator_index == duty.validator_index:
            events.append(
                ProposalChanged(
                    validator_index=duty.validator_index,
                    epoch=Epoch(duty.slot // self._spe),
                    slot=duty.slot,
                    old=previous.outcome.verdict,
                    new=outcome.verdict,
                    final=finalized,
                )
            )
        event = verdict_event(outcome, self._spe)
        assert event is not None
        events.append(event)
        return events

    def forget(self, slot: int) -> None:
        """Drop a slot whose duty turned out not to be ours after a duties reload."""
        self._by_slot.pop(Slot(slot), None)

    def prune(self, before_slot: int) -> None:
        """Drop final verdicts of slots before ``before_slot`` (bounded memory)."""
        for s in [s for s, t in self._by_slot.items() if t.final and s < before_slot]:
            del self._by_slot[s]
